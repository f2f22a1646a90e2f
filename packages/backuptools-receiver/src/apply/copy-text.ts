import { cellOf, type Row } from '@storx-backup/protocol';

/**
 * Bytes per COPY data chunk. Each chunk is a fresh Buffer (the socket may still hold the previous
 * one), and 64 KiB stays under glibc's mmap threshold, so chunks come from and go back to the
 * malloc heap instead of costing fresh pages; it is also small enough that encoding one takes
 * well under a millisecond, the longest the event loop is held between two chunks.
 */
export const COPY_CHUNK_BYTES = 64 * 1024;

const TAB = 0x09;
const NEWLINE = 0x0a;
const BACKSLASH = 0x5c;
const NULL_MARKER = Buffer.from('\\N');
const SPECIAL = /[\\\n\r\t]/;
const SPECIALS = /[\\\n\r\t]/g;
/** The letter after the backslash for each character COPY's text format escapes. */
const ESCAPED: Record<number, number> = { 0x5c: 0x5c, 0x0a: 0x6e, 0x0d: 0x72, 0x09: 0x74 };

/**
 * `rows` in COPY's text format (one line per row, `columns` in order, tab-separated, NULL as
 * `\N`), as Buffers of about `chunkBytes` each. A value is the source's text output, which the
 * backup's column type parses with its input function exactly as `$1::text::type` does. Only
 * backslash, newline, carriage return and tab need escaping; in UTF-8 those bytes never occur
 * inside a multi-byte character, so every other character is written as is. A chunk boundary
 * may fall inside a row: COPY data is a byte stream.
 */
export function* copyTextChunks(rows: readonly Row[], columns: readonly string[], chunkBytes = COPY_CHUNK_BYTES): Generator<Buffer> {
  let chunk = Buffer.allocUnsafe(chunkBytes);
  let at = 0;
  const last = columns.length - 1;
  for (const row of rows) {
    for (let index = 0; index <= last; index++) {
      const value = cellOf(row, columns[index]!) ?? null;
      // At most 3 bytes per UTF-16 code unit (an escaped character takes 2), plus the separator.
      const room = value === null ? 3 : 3 * value.length + 1;
      if (at + room > chunk.length) {
        if (at > 0) yield chunk.subarray(0, at);
        chunk = Buffer.allocUnsafe(Math.max(chunkBytes, room));
        at = 0;
      }
      if (value === null) at += NULL_MARKER.copy(chunk, at);
      else at = SPECIAL.test(value) ? writeEscaped(chunk, at, value) : at + chunk.write(value, at);
      chunk[at++] = index === last ? NEWLINE : TAB;
    }
  }
  if (at > 0) yield chunk.subarray(0, at);
}

function writeEscaped(chunk: Buffer, start: number, value: string): number {
  let at = start;
  let from = 0;
  SPECIALS.lastIndex = 0;
  for (let match = SPECIALS.exec(value); match !== null; match = SPECIALS.exec(value)) {
    if (match.index > from) at += chunk.write(value.slice(from, match.index), at);
    chunk[at++] = BACKSLASH;
    chunk[at++] = ESCAPED[value.charCodeAt(match.index)]!;
    from = match.index + 1;
  }
  if (from < value.length) at += chunk.write(from === 0 ? value : value.slice(from), at);
  return at;
}
