import type { Batch } from './batch.js';
import { type BatchHeader, encodeBatchPayload } from './batch-payload.js';
import { ProtocolError } from './errors.js';
import { decodeBatchInSlices } from './payload-codec.js';
import { relationKey } from './relation.js';

/**
 * The `cty` of a v3 frame whose plaintext is a table-copy chunk with its rows as PostgreSQL COPY
 * text (docs/protocol.md, "Copy chunks"), instead of one JSON event per row:
 *
 *   u32 J | batch JSON (J bytes: `events` empty, `snapshot` set) | u32 M | copy header JSON (M bytes) | COPY text data
 *
 * The rows go from the source's `COPY ... TO STDOUT` into the backup's `COPY ... FROM STDIN`
 * as the bytes they are: neither side builds, escapes or parses a value.
 */
export const COPY_CONTENT_TYPE = 'storx-copy+text';
/** The copy header's `version`. */
export const COPY_SECTION_VERSION = 1;
/** The only row encoding so far: PostgreSQL's COPY text format (tab, `\N`, newline). */
export type CopyFormat = 'text';
export const COPY_FORMATS: readonly CopyFormat[] = Object.freeze(['text'] as const);

const MAX_BATCH_JSON_BYTES = 16 * 1024 * 1024;
const MAX_COPY_HEADER_BYTES = 256 * 1024;
/** Rows one chunk may declare: above any chunk a sender makes (replication.copy-chunk-bytes, at most 8 MiB, / the shortest row, 1 byte). */
export const MAX_COPY_ROWS = 10_000_000;
const NEWLINE = 0x0a;
const BACKSLASH = 0x5c;
const DOT = 0x2e;
const CARRIAGE_RETURN = 0x0d;

/** The rows of a copy chunk: the COPY text of `rows` rows of `columns`, one line each. */
export interface CopySection {
  format: CopyFormat;
  /** The columns of every line, in order: exactly the relation's columns. */
  columns: readonly string[];
  rows: number;
  /** The COPY text, in pieces simply concatenated (a view into the request body on a receiver). */
  data: readonly Uint8Array[];
}

interface CopyHeader {
  version: number;
  format: CopyFormat;
  columns: readonly string[];
  rows: number;
}

/** The plaintext of a copy chunk's v3 frame (the sender's side). */
export function encodeCopyPayload(header: BatchHeader, section: CopySection): Buffer {
  const batch = encodeBatchPayload(header, { pieces: [], count: 0, byteLength: 0 });
  const copy = Buffer.from(JSON.stringify({ version: COPY_SECTION_VERSION, format: section.format, columns: section.columns, rows: section.rows } satisfies CopyHeader), 'utf8');
  const dataBytes = section.data.reduce((sum, piece) => sum + piece.byteLength, 0);
  const payload = Buffer.allocUnsafeSlow(4 + batch.length + 4 + copy.length + dataBytes);
  let at = payload.writeUInt32BE(batch.length, 0);
  at += batch.copy(payload, at);
  at = payload.writeUInt32BE(copy.length, at);
  at += copy.copy(payload, at);
  for (const piece of section.data) {
    payload.set(piece, at);
    at += piece.byteLength;
  }
  return payload;
}

/**
 * Reads and checks a copy chunk's plaintext (the receiver's side), before anything is applied:
 * the lengths, the batch (a table copy chunk with no events, as decodeBatchInSlices judges any
 * batch), the copy header (version, format, the relation's columns in order, a row count in
 * bounds) and the data's lines (as many as declared, each ended by a newline, none the
 * end-of-data marker `\.`). The values themselves are PostgreSQL's to read. Throws
 * PAYLOAD_COPY_INVALID (or PAYLOAD_INVALID / PAYLOAD_NOT_JSON for the batch).
 */
export async function decodeCopyPayload(plaintext: Uint8Array): Promise<{ batch: Batch; copy: CopySection }> {
  const bytes = Buffer.from(plaintext.buffer, plaintext.byteOffset, plaintext.byteLength);
  const length = (at: number, max: number, what: string): number => {
    if (at + 4 > bytes.length) throw invalid(`the payload ends before the length of the ${what}`);
    const value = bytes.readUInt32BE(at);
    if (value === 0 || value > max) throw invalid(`the ${what} length ${value} is outside 1-${max}`);
    if (at + 4 + value > bytes.length) throw invalid(`the payload ends inside the ${what}`);
    return value;
  };
  const batchBytes = length(0, MAX_BATCH_JSON_BYTES, 'batch JSON');
  const batch = await decodeBatchInSlices(bytes.subarray(4, 4 + batchBytes));
  const snapshot = batch.snapshot;
  if (snapshot === undefined) throw invalid('the batch of a copy chunk must carry `snapshot`');
  if (batch.events.length > 0) throw invalid('the batch of a copy chunk carries its rows in the copy data, not in `events`');
  const headerAt = 4 + batchBytes;
  const headerBytes = length(headerAt, MAX_COPY_HEADER_BYTES, 'copy header');
  const header = parseCopyHeader(bytes.subarray(headerAt + 4, headerAt + 4 + headerBytes));
  const relation = batch.relations.find((candidate) => relationKey(candidate.schema, candidate.table) === relationKey(snapshot.schema, snapshot.table));
  if (relation === undefined) throw invalid(`the batch describes no relation for the copied table ${snapshot.schema}.${snapshot.table}`);
  const names = relation.columns.map((column) => column.name);
  if (names.length !== header.columns.length || names.some((name, index) => name !== header.columns[index])) {
    throw invalid(`the copy's columns (${header.columns.join(', ')}) are not the relation's columns in order (${names.join(', ')})`);
  }
  const data = bytes.subarray(headerAt + 4 + headerBytes);
  checkLines(data, header.rows);
  return { batch, copy: { format: header.format, columns: header.columns, rows: header.rows, data: [data] } };
}

function parseCopyHeader(bytes: Buffer): CopyHeader {
  let value: unknown;
  try {
    value = JSON.parse(bytes.toString('utf8'));
  } catch (cause) {
    throw new ProtocolError('PAYLOAD_COPY_INVALID', 'copy chunk: the copy header is not JSON', { cause });
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw invalid('the copy header is not a JSON object');
  const record = value as Record<string, unknown>;
  const unknown = Object.keys(record).filter((key) => !['version', 'format', 'columns', 'rows'].includes(key));
  if (unknown.length > 0) throw invalid(`the copy header has unknown members: ${unknown.join(', ')}`);
  if (record.version !== COPY_SECTION_VERSION) throw invalid(`copy header version ${JSON.stringify(record.version)} is not ${COPY_SECTION_VERSION}`);
  if (record.format !== 'text') throw invalid(`copy format ${JSON.stringify(record.format)} is not "text"`);
  const { columns, rows } = record;
  if (!Array.isArray(columns) || columns.length === 0 || !columns.every((name) => typeof name === 'string')) throw invalid('the copy header columns must be a non-empty list of names');
  if (typeof rows !== 'number' || !Number.isInteger(rows) || rows < 0 || rows > MAX_COPY_ROWS) throw invalid(`the copy header rows must be an integer in 0-${MAX_COPY_ROWS}`);
  return { version: COPY_SECTION_VERSION, format: 'text', columns, rows };
}

/**
 * Exactly `rows` lines, each ended by a newline (a newline inside a value is escaped as `\n`, so
 * every 0x0A byte ends a row), no raw carriage return, none of them `\.`: PostgreSQL takes that line as the end of the
 * data and would quietly drop the rows after it. (A source never writes it: its backslashes are
 * doubled.) The number of fields per line is checked by PostgreSQL, which refuses the COPY.
 */
function checkLines(data: Buffer, rows: number): void {
  if (data.length > 0 && data[data.length - 1] !== NEWLINE) throw invalid('the copy data does not end with a newline');
  // PostgreSQL also ends lines at a raw carriage return; a source escapes it (`\r`).
  if (data.indexOf(CARRIAGE_RETURN) !== -1) throw invalid('the copy data holds a raw carriage return (a value must escape it as \\r)');
  let lines = 0;
  for (let start = 0; start < data.length; ) {
    const end = data.indexOf(NEWLINE, start);
    if (end === start + 2 && data[start] === BACKSLASH && data[start + 1] === DOT) throw invalid(`line ${lines + 1} of the copy data is the end-of-data marker \\.`);
    lines += 1;
    if (lines > rows) break;
    start = end + 1;
  }
  if (lines !== rows) throw invalid(`the copy data holds ${lines > rows ? `more than ${rows}` : lines} lines; the copy header declares ${rows} rows`);
}

function invalid(why: string): ProtocolError {
  return new ProtocolError('PAYLOAD_COPY_INVALID', `copy chunk: ${why}`);
}
