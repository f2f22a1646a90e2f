import { writeUpperHex } from '@storx-backup/protocol';
import type { ChangeContext } from './change-json.js';
import { writeIsoTimestamp } from './commit-time.js';

const ascii = (text: string): Buffer => Buffer.from(text, 'latin1');
const TIMESTAMP_END = ascii('","lsn":"');
const COMMIT_LSN = ascii('","commit_lsn":"');
const XID = ascii('","xid":');
const SEQ = ascii(',"seq":');
const QUOTE = 0x22;
const SLASH = 0x2f;
const DIGIT_0 = 0x30;

/** Bytes the two shared pieces take at most: `"` + a 27-byte timestamp + 9, then 16 + 17 (an LSN) + 8 + 10 (an xid) + 7. */
export const TRANSACTION_CONTEXT_BYTES = 128;

/** Positions below this (8 PiB of WAL) convert to a double exactly. */
const EXACT_IN_DOUBLE = 2n ** 53n;

/**
 * Writes what every change of a transaction shares into `context.shared` (at least
 * TRANSACTION_CONTEXT_BYTES long, reused from one transaction to the next), byte for byte the
 * JSON the events had when these pieces were strings: `"<commit time>","lsn":"` and
 * `","commit_lsn":"<commit LSN as PostgreSQL prints it>","xid":<xid>,"seq":`. Once per source
 * transaction, with no string and no Buffer made: for a backlog of single-row transactions this
 * is per row.
 */
export function writeTransactionContext(context: ChangeContext, commitLsn: bigint, commitTime: bigint, xid: number): void {
  const out = context.shared;
  let at = 0;
  out[at++] = QUOTE;
  at = writeIsoTimestamp(commitTime, out, at);
  at = copy(TIMESTAMP_END, out, at);
  context.timestampLsnEnd = at;
  context.commitXidSeqStart = at;
  at = copy(COMMIT_LSN, out, at);
  let high: number;
  let low: number;
  if (commitLsn < EXACT_IN_DOUBLE) {
    const position = Number(commitLsn);
    high = Math.floor(position / 2 ** 32);
    low = position >>> 0;
  } else {
    high = Number(commitLsn >> 32n);
    low = Number(commitLsn & 0xffffffffn);
  }
  at = writeUpperHex(out, at, high);
  out[at++] = SLASH;
  at = writeUpperHex(out, at, low);
  at = copy(XID, out, at);
  at = writeDecimal(out, at, xid);
  at = copy(SEQ, out, at);
  context.commitXidSeqEnd = at;
}

function copy(fragment: Buffer, out: Buffer, at: number): number {
  for (let index = 0; index < fragment.length; index += 1) out[at++] = fragment[index]!;
  return at;
}

/** A 32-bit unsigned integer in decimal (an xid), as `String(value)` writes it. */
function writeDecimal(out: Buffer, at: number, value: number): number {
  let digits = 1;
  for (let rest = value; rest >= 10; rest = Math.floor(rest / 10)) digits += 1;
  let rest = value;
  for (let digit = at + digits - 1; digit >= at; digit -= 1) {
    out[digit] = DIGIT_0 + (rest % 10);
    rest = Math.floor(rest / 10);
  }
  return at + digits;
}
