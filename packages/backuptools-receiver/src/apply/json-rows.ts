import { JsonRow, type RowSource } from '@storx-backup/protocol';

const OPEN_BRACKET = 0x5b;
const COMMA = 0x2c;
const CLOSE_BRACKET = 0x5d;

/**
 * The rows as one JSON array, `[{...},{...}]`, for `json_to_recordset` on the backup: a row still
 * as JSON bytes (json-row.ts) is copied as it came, with no object and no string made; an object
 * row is stringified. One Buffer, sent as the statement's parameter as it is (node-postgres sends
 * a Buffer in binary format, and the binary form of `json` is its text).
 */
export function jsonArrayOf(rows: readonly RowSource[]): Buffer {
  const pieces = rows.map((row) => (row instanceof JsonRow ? row.bytes.subarray(row.start, row.end) : Buffer.from(JSON.stringify(row), 'utf8')));
  let length = 2 + Math.max(0, pieces.length - 1);
  for (const piece of pieces) length += piece.length;
  const out = Buffer.allocUnsafe(length);
  let at = 0;
  out[at++] = OPEN_BRACKET;
  pieces.forEach((piece, index) => {
    if (index > 0) out[at++] = COMMA;
    at += piece.copy(out, at);
  });
  out[at++] = CLOSE_BRACKET;
  return out;
}
