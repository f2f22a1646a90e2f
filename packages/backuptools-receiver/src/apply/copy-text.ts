import { JsonRow, type Row, type RowSource } from '@storx-backup/protocol';

/**
 * Bytes per COPY data chunk. Each chunk is a fresh Buffer (the socket may still hold the previous
 * one), and 64 KiB stays under glibc's mmap threshold, so chunks come from and go back to the
 * malloc heap instead of costing fresh pages; it is also small enough that encoding one takes
 * well under a millisecond, the longest the event loop is held between two chunks.
 */
export const COPY_CHUNK_BYTES = 64 * 1024;

const SPECIAL = /[\\\n\r\t]/;
const SPECIALS = /[\\\n\r\t]/g;
const ESCAPED: Readonly<Record<string, string>> = { '\\': '\\\\', '\n': '\\n', '\r': '\\r', '\t': '\\t' };

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const TAB = 0x09;
const NEWLINE = 0x0a;
const NULL_MARK = 0x4e; // N, of \N
/** The byte a JSON escape letter stands for in COPY text, after a backslash when it is a letter too (0: `u`, or not an escape). */
const COPY_OF_ESCAPE = new Uint8Array(256);
/** 1 when COPY text needs a backslash before COPY_OF_ESCAPE's byte. */
const COPY_NEEDS_BACKSLASH = new Uint8Array(256);
for (const [letter, byte, backslash] of [
  ['"', 0x22, 0],
  ['/', 0x2f, 0],
  ['b', 0x08, 0],
  ['f', 0x0c, 0],
  ['\\', 0x5c, 1],
  ['n', 0x6e, 1],
  ['r', 0x72, 1],
  ['t', 0x74, 1],
] as const) {
  COPY_OF_ESCAPE[letter.charCodeAt(0)] = byte;
  COPY_NEEDS_BACKSLASH[letter.charCodeAt(0)] = backslash;
}
/** A code point below 0x80 (from `\u00xx`) in COPY text: the letter after a backslash for the four COPY escapes, else 0. */
const COPY_ESCAPE_LETTER = new Uint8Array(128);
COPY_ESCAPE_LETTER[0x5c] = 0x5c;
COPY_ESCAPE_LETTER[0x0a] = 0x6e;
COPY_ESCAPE_LETTER[0x0d] = 0x72;
COPY_ESCAPE_LETTER[0x09] = 0x74;
const HEX = new Uint8Array(256);
for (let digit = 0; digit < 16; digit += 1) {
  HEX['0123456789abcdef'.charCodeAt(digit)] = digit;
  HEX['0123456789ABCDEF'.charCodeAt(digit)] = digit;
}

/**
 * `rows` in COPY's text format (one line per row, `columns` in order, tab-separated, NULL as
 * `\N`), as Buffers of about `chunkBytes` each. A value is the source's text output, which the
 * backup's column type parses with its input function exactly as `$1::text::type` does. Only
 * backslash, newline, carriage return and tab need escaping. A chunk boundary may fall between
 * any two rows: COPY data is a byte stream.
 *
 * A row still as JSON bytes (the common case: an INSERT as the replicator wrote it) is
 * transcoded byte by byte, JSON string escapes to COPY escapes, with no object and no string
 * made; byte for byte what the object path below writes for `JSON.parse` of it (copy-text.test.ts
 * holds the two together). An object row becomes one short string written into the chunk at
 * once: measured ~30% cheaper than writing value by value.
 */
export function* copyTextChunks(rows: readonly RowSource[], columns: readonly string[], chunkBytes = COPY_CHUNK_BYTES): Generator<Buffer> {
  let chunk = Buffer.allocUnsafe(chunkBytes);
  let at = 0;
  const order = new JsonRowOrder(columns);
  const backslashes = new NextBackslash();
  for (const row of rows) {
    if (row instanceof JsonRow) {
      // A COPY line is never longer than the JSON row (see writeJsonRow), but for the `\N` of a
      // column the row does not have.
      const room = row.end - row.start + 3 * columns.length + 1;
      if (at + room > chunk.length) {
        if (at > 0) yield chunk.subarray(0, at);
        chunk = Buffer.allocUnsafe(Math.max(chunkBytes, room));
        at = 0;
      }
      at = writeJsonRow(row, order.of(row), order.spans, backslashes, chunk, at);
      continue;
    }
    const line = objectLine(row, columns);
    // At most 3 bytes per UTF-16 code unit.
    const room = 3 * line.length;
    if (at + room > chunk.length) {
      if (at > 0) yield chunk.subarray(0, at);
      chunk = Buffer.allocUnsafe(Math.max(chunkBytes, room));
      at = 0;
    }
    at += chunk.write(line, at);
  }
  if (at > 0) yield chunk.subarray(0, at);
}

/** For each COPY column, the index of its member in a JSON row of one shape (-1: absent, NULL). Kept for the last shape met. */
class JsonRowOrder {
  private names: readonly string[] | undefined;
  private order = new Int32Array(0);
  /** Where each member's value starts and ends (start -1: null), reused row after row. */
  spans = new Int32Array(0);

  constructor(private readonly columns: readonly string[]) {}

  of(row: JsonRow): Int32Array {
    if (row.columns !== this.names) {
      this.names = row.columns;
      this.order = Int32Array.from(this.columns, (column) => row.columns.indexOf(column));
      this.spans = new Int32Array(2 * row.columns.length);
    }
    return this.order;
  }
}

/** Stretches this long or longer are copied natively (Buffer#copy); shorter ones byte by byte (a native call costs more). */
const NATIVE_COPY_BYTES = 24;

/**
 * Writes one row from its JSON bytes (checked as they were read: row-event-scan.ts) as a COPY
 * line at `at`; returns where it ends. Every JSON escape is at least as long as what it stands
 * for in COPY text (`\\` → `\\`, `\n` → `\n`, `\"` → `"`, `\u00xx` → one to three bytes), each
 * member adds at least `"x":` and a comma where COPY adds one tab, and `null` becomes `\N`: the
 * line is never longer than the JSON row.
 */
function writeJsonRow(row: JsonRow, order: Int32Array, spans: Int32Array, backslashes: NextBackslash, out: Buffer, at: number): number {
  const bytes = row.bytes;
  // First pass: where each member's value lies (memchr for the closing quote: values are long).
  let read = row.start + 1;
  for (let member = 0; member < row.columns.length; member += 1) {
    // The name: no escape in it (the scanner took only such rows), then `":`.
    read += 1;
    while (bytes[read] !== QUOTE) read += 1;
    read += 2;
    if (bytes[read] === QUOTE) {
      const start = read + 1;
      let end = bytes.indexOf(QUOTE, start);
      // A quote after an odd number of backslashes is escaped: part of the value.
      while (isEscaped(bytes, start, end)) end = bytes.indexOf(QUOTE, end + 1);
      spans[2 * member] = start;
      spans[2 * member + 1] = end;
      read = end + 2; // past the quote and the comma (or the closing brace)
    } else {
      spans[2 * member] = -1;
      read += 5; // null,
    }
  }
  const last = order.length - 1;
  for (let index = 0; index <= last; index += 1) {
    const member = order[index]!;
    const start = member < 0 ? -1 : spans[2 * member]!;
    if (start < 0) {
      out[at++] = BACKSLASH;
      out[at++] = NULL_MARK;
    } else {
      at = transcode(bytes, start, spans[2 * member + 1]!, backslashes, out, at);
    }
    out[at++] = index === last ? NEWLINE : TAB;
  }
  return at;
}

function isEscaped(bytes: Buffer, start: number, quote: number): boolean {
  let backslashes = 0;
  while (quote - 1 - backslashes >= start && bytes[quote - 1 - backslashes] === BACKSLASH) backslashes += 1;
  return backslashes % 2 === 1;
}

/**
 * The next backslash at or after a position, found with memchr and remembered: the rows of a
 * run lie in order in one payload, so each byte is searched once (a payload without any
 * backslash is not searched again for every value).
 */
class NextBackslash {
  private bytes: Buffer | undefined;
  private found = -1;
  private searchedFrom = 0;

  at(bytes: Buffer, from: number): number {
    if (bytes !== this.bytes || from < this.searchedFrom || (this.found !== Infinity && this.found < from)) {
      this.bytes = bytes;
      this.searchedFrom = from;
      const found = bytes.indexOf(BACKSLASH, from);
      this.found = found < 0 ? Infinity : found;
    }
    return this.found;
  }
}

/** Copies `bytes[from, to)` to `out` at `at`; returns where it ends. */
function copyBytes(bytes: Buffer, from: number, to: number, out: Buffer, at: number): number {
  if (to - from >= NATIVE_COPY_BYTES) return at + bytes.copy(out, at, from, to);
  for (let read = from; read < to; read += 1) out[at++] = bytes[read]!;
  return at;
}

/** The contents of a JSON string (checked, between its quotes) as a COPY text value. */
function transcode(bytes: Buffer, from: number, to: number, backslashes: NextBackslash, out: Buffer, at: number): number {
  let read = from;
  for (;;) {
    // Bytes up to the next escape are copied as they are: never a control character (not
    // allowed raw in JSON), so never one COPY escapes.
    const escape = backslashes.at(bytes, read);
    if (escape >= to) return copyBytes(bytes, read, to, out, at);
    at = copyBytes(bytes, read, escape, out, at);
    const letter = bytes[escape + 1]!;
    read = escape + 2;
    const plain = COPY_OF_ESCAPE[letter]!;
    if (plain !== 0) {
      if (COPY_NEEDS_BACKSLASH[letter] === 1) out[at++] = BACKSLASH;
      out[at++] = plain;
      continue;
    }
    // \uXXXX, never a surrogate (the scanner left those to JSON.parse): its UTF-8.
    const code = (HEX[bytes[read]!]! << 12) | (HEX[bytes[read + 1]!]! << 8) | (HEX[bytes[read + 2]!]! << 4) | HEX[bytes[read + 3]!]!;
    read += 4;
    if (code < 0x80) {
      const copyEscape = COPY_ESCAPE_LETTER[code]!;
      if (copyEscape !== 0) {
        out[at++] = BACKSLASH;
        out[at++] = copyEscape;
      } else out[at++] = code;
    } else if (code < 0x800) {
      out[at++] = 0xc0 | (code >> 6);
      out[at++] = 0x80 | (code & 0x3f);
    } else {
      out[at++] = 0xe0 | (code >> 12);
      out[at++] = 0x80 | ((code >> 6) & 0x3f);
      out[at++] = 0x80 | (code & 0x3f);
    }
  }
}

/** An object row's COPY line. */
function objectLine(row: Row, columns: readonly string[]): string {
  let line = '';
  const last = columns.length - 1;
  for (let index = 0; index <= last; index++) {
    const column = columns[index]!;
    // cellOf, inlined (the hottest line): the row's own property only, else NULL.
    const value = Object.hasOwn(row, column) ? row[column] : null;
    line += (value === null || value === undefined ? '\\N' : escaped(value)) + (index === last ? '\n' : '\t');
  }
  return line;
}

function escaped(value: string): string {
  if (!SPECIAL.test(value)) return value;
  // bytea's hex output (`\x…`), the common case: one more backslash in front.
  SPECIALS.lastIndex = 1;
  if (value.charCodeAt(0) === 0x5c && !SPECIALS.test(value)) return '\\' + value;
  return value.replace(SPECIALS, (character) => ESCAPED[character]!);
}
