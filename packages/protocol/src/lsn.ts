/**
 * A PostgreSQL log sequence number: a 64-bit position in the WAL.
 *
 * Kept as a branded `bigint` so that LSNs are compared as numbers, never as strings
 * ("0/A" > "0/10" as text), and cannot be confused with other bigints.
 * On the wire an LSN is PostgreSQL's own text form, `XXXXXXXX/XXXXXXXX` (hex).
 */
export type Lsn = bigint & { readonly __brand: 'Lsn' };

/** PostgreSQL's text form of an LSN: two 1-8 digit hex numbers separated by '/'. */
export const LSN_TEXT = /^([0-9A-Fa-f]{1,8})\/([0-9A-Fa-f]{1,8})$/;
const MAX_LSN = (1n << 64n) - 1n;

/**
 * Positions at or beyond this (8000000/0: 2^63 bytes, 8 EiB of WAL) are refused on the wire. No
 * server has written that much WAL, and `FFFFFFFF/FFFFFFFF` is what a sender bug (an unset or
 * negative position) produces: accepted, it would move the receiver's watermark past every real
 * transaction of the source, and each would then be ignored as a duplicate.
 */
export const IMPLAUSIBLE_LSN = (1n << 63n) as Lsn;

/** True when `lsn` is a position a real server can have reached (below `IMPLAUSIBLE_LSN`). */
export function isPlausibleLsn(lsn: Lsn): boolean {
  return lsn < IMPLAUSIBLE_LSN;
}

/** The zero LSN, `0/0`: "nothing applied yet". */
export const LSN_ZERO = 0n as Lsn;

/** Parses PostgreSQL's text form (`16/B374D848`). Throws a `RangeError` naming the input. */
export function parseLsn(text: string): Lsn {
  const match = LSN_TEXT.exec(text);
  if (!match) throw new RangeError(`invalid LSN ${JSON.stringify(text)}: expected hex "X/Y" such as "16/B374D848"`);
  return ((BigInt(`0x${match[1]}`) << 32n) | BigInt(`0x${match[2]}`)) as Lsn;
}

/** True when `text` is a well-formed LSN in PostgreSQL's text form. */
export function isLsnText(text: string): boolean {
  return LSN_TEXT.test(text);
}

/** Formats as PostgreSQL does: upper-case hex, no leading zeros (`16/B374D848`). */
export function formatLsn(lsn: Lsn): string {
  const high = lsn >> 32n;
  const low = lsn & 0xffffffffn;
  return `${high.toString(16).toUpperCase()}/${low.toString(16).toUpperCase()}`;
}

/** Converts a 64-bit integer (for example pg-logical-replication's numeric positions) to an `Lsn`. */
export function lsnFromBigInt(value: bigint): Lsn {
  if (value < 0n || value > MAX_LSN) throw new RangeError(`LSN out of range: ${value}`);
  return value as Lsn;
}

/** Negative, zero or positive as `a` is before, at or after `b`. */
export function compareLsn(a: Lsn, b: Lsn): -1 | 0 | 1 {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** The later of two LSNs. */
export function maxLsn(a: Lsn, b: Lsn): Lsn {
  return a >= b ? a : b;
}

/** Fixed-width (16 hex digits) form, sortable as text; used inside webhook ids. */
export function lsnToFixedHex(lsn: Lsn): string {
  return lsn.toString(16).toUpperCase().padStart(16, '0');
}
