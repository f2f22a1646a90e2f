import { ProtocolError } from './errors.js';

const TAB = 0x09;
const NEWLINE = 0x0a;
const BACKSLASH = 0x5c;
/** COPY FROM refuses bytes that are not UTF-8 in a UTF8 database; so does this, never replacing them. */
const UTF8 = new TextDecoder('utf-8', { fatal: true });
const SIMPLE_ESCAPES: Readonly<Record<number, number>> = { 0x62: 0x08, 0x66: 0x0c, 0x6e: 0x0a, 0x72: 0x0d, 0x74: 0x09, 0x76: 0x0b };

/**
 * The rows of COPY text data (PostgreSQL's text format: fields split by tab, lines by newline,
 * `\N` for NULL, backslash escapes as COPY FROM reads them: `\b \f \n \r \t \v`, octal `\NNN`,
 * hex `\xHH`, any other character after a backslash stands for itself), each row its values in
 * column order. For a backup table COPY cannot write into (rules, row-level security): its rows
 * take the statements instead. Throws PAYLOAD_COPY_INVALID for a line without `columns` fields
 * and for a value that is not UTF-8 once unescaped.
 */
export function* copyTextRows(data: Uint8Array, columns: number): Generator<(string | null)[]> {
  const bytes = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  let line = 0;
  for (let start = 0; start < bytes.length; ) {
    let end = bytes.indexOf(NEWLINE, start);
    if (end === -1) end = bytes.length;
    line += 1;
    const values: (string | null)[] = [];
    for (let field = start; ; ) {
      let stop = bytes.indexOf(TAB, field);
      if (stop === -1 || stop > end) stop = end;
      values.push(fieldValue(bytes, field, stop));
      if (stop === end) break;
      field = stop + 1;
    }
    if (values.length !== columns) throw new ProtocolError('PAYLOAD_COPY_INVALID', `copy chunk: line ${line} has ${values.length} fields; the table copy has ${columns} columns`);
    yield values;
    start = end + 1;
  }
}

function fieldValue(bytes: Buffer, start: number, end: number): string | null {
  const escape = bytes.indexOf(BACKSLASH, start);
  if (escape === -1 || escape >= end) return utf8(bytes.subarray(start, end));
  if (end - start === 2 && bytes[start + 1] === 0x4e) return null; // \N
  const out = Buffer.allocUnsafe(end - start);
  let length = 0;
  for (let at = start; at < end; at++) {
    const byte = bytes[at]!;
    if (byte !== BACKSLASH || at + 1 >= end) {
      out[length++] = byte;
      continue;
    }
    const next = bytes[++at]!;
    if (next >= 0x30 && next <= 0x37) {
      let value = next - 0x30;
      for (let digits = 1; digits < 3 && at + 1 < end && bytes[at + 1]! >= 0x30 && bytes[at + 1]! <= 0x37; digits++) value = value * 8 + (bytes[++at]! - 0x30);
      out[length++] = value & 0xff;
    } else if (next === 0x78 && at + 1 < end && isHex(bytes[at + 1]!)) {
      let value = hexValue(bytes[++at]!);
      if (at + 1 < end && isHex(bytes[at + 1]!)) value = value * 16 + hexValue(bytes[++at]!);
      out[length++] = value;
    } else {
      out[length++] = SIMPLE_ESCAPES[next] ?? next;
    }
  }
  return utf8(out.subarray(0, length));
}

function utf8(bytes: Uint8Array): string {
  try {
    return UTF8.decode(bytes);
  } catch {
    throw new ProtocolError('PAYLOAD_COPY_INVALID', 'copy chunk: a value is not valid UTF-8');
  }
}

function isHex(byte: number): boolean {
  return (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x46) || (byte >= 0x61 && byte <= 0x66);
}

function hexValue(byte: number): number {
  return byte <= 0x39 ? byte - 0x30 : (byte | 0x20) - 0x61 + 10;
}
