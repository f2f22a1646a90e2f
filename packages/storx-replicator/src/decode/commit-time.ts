/** Microseconds between 1970-01-01 and PostgreSQL's epoch, 2000-01-01. */
const PG_EPOCH_OFFSET_MICROS = 946_684_800_000_000n;

/**
 * A pgoutput timestamp (microseconds since 2000-01-01 UTC, a BigInt) as ISO 8601 UTC with all
 * six fractional digits. Never through a JS Date alone: that keeps milliseconds only.
 */
export function pgTimestampToIso(micros: bigint): string {
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

/** The same instant as Unix milliseconds (for lag metrics). */
export function pgTimestampToUnixMs(micros: bigint): number {
  return Number((micros + PG_EPOCH_OFFSET_MICROS) / 1000n);
}
