/** Microseconds between 1970-01-01 and PostgreSQL's epoch, 2000-01-01. */
const PG_EPOCH_OFFSET_MICROS = 946_684_800_000_000n;
const PG_EPOCH_OFFSET_MICROS_NUMBER = 946_684_800_000_000;
/**
 * Timestamps within this many microseconds of 2000-01-01 (about ±142 years) are exact as
 * doubles even after the epoch shift: converted without BigInt arithmetic, which allocates.
 */
const EXACT_MICROS = 2 ** 52;

/** The last whole second formatted, and its text: consecutive commits mostly share it. */
let cachedSecond = Number.NaN;
let cachedWhole = '';

/**
 * A pgoutput timestamp (microseconds since 2000-01-01 UTC, a BigInt) as ISO 8601 UTC with all
 * six fractional digits. Never through a JS Date alone: that keeps milliseconds only. Called once
 * per source transaction: the common case takes no BigInt arithmetic and formats the date and
 * time of day once per second.
 */
export function pgTimestampToIso(micros: bigint): string {
  if (micros > -EXACT_MICROS && micros < EXACT_MICROS) {
    const unixMicros = Number(micros) + PG_EPOCH_OFFSET_MICROS_NUMBER;
    const second = Math.floor(unixMicros / 1_000_000);
    const fraction = unixMicros - second * 1_000_000;
    if (second !== cachedSecond) {
      cachedWhole = new Date(second * 1000).toISOString().slice(0, 19);
      cachedSecond = second;
    }
    return `${cachedWhole}.${fraction < 100_000 ? String(fraction).padStart(6, '0') : fraction}Z`;
  }
  const unixMicros = micros + PG_EPOCH_OFFSET_MICROS;
  let seconds = unixMicros / 1_000_000n;
  let fraction = unixMicros % 1_000_000n;
  if (fraction < 0n) {
    fraction += 1_000_000n;
    seconds -= 1n;
  }
  const whole = new Date(Number(seconds) * 1000).toISOString().slice(0, 19);
  return `${whole}.${fraction.toString().padStart(6, '0')}Z`;
}

/** The last whole second `writeIsoTimestamp` wrote, and its `YYYY-MM-DDTHH:MM:SS` as bytes. */
let cachedBytesSecond = Number.NaN;
let cachedWholeBytes = Buffer.alloc(19);
const DIGIT_0 = 0x30;

/**
 * Writes `pgTimestampToIso(micros)` into `out` at `at` as latin1 bytes (it is ASCII) and returns
 * where it ends, with no string made in the common case: the assembler writes it once per source
 * transaction, and for a backlog of single-row transactions the string and its copy into bytes
 * were a measurable part of each one. `out` needs 32 bytes of room.
 */
export function writeIsoTimestamp(micros: bigint, out: Buffer, at: number): number {
  if (!(micros > -EXACT_MICROS && micros < EXACT_MICROS)) return at + out.write(pgTimestampToIso(micros), at, 'latin1');
  const unixMicros = Number(micros) + PG_EPOCH_OFFSET_MICROS_NUMBER;
  const second = Math.floor(unixMicros / 1_000_000);
  let fraction = unixMicros - second * 1_000_000;
  if (second !== cachedBytesSecond) {
    cachedWholeBytes = Buffer.from(new Date(second * 1000).toISOString().slice(0, 19), 'latin1');
    cachedBytesSecond = second;
  }
  for (let index = 0; index < 19; index += 1) out[at + index] = cachedWholeBytes[index]!;
  out[at + 19] = 0x2e; // .
  for (let digit = 25; digit > 19; digit -= 1) {
    out[at + digit] = DIGIT_0 + (fraction % 10);
    fraction = Math.floor(fraction / 10);
  }
  out[at + 26] = 0x5a; // Z
  return at + 27;
}

/** The same instant as Unix milliseconds (for lag metrics). */
export function pgTimestampToUnixMs(micros: bigint): number {
  if (micros > -EXACT_MICROS && micros < EXACT_MICROS) return Math.trunc((Number(micros) + PG_EPOCH_OFFSET_MICROS_NUMBER) / 1000);
  return Number((micros + PG_EPOCH_OFFSET_MICROS) / 1000n);
}
