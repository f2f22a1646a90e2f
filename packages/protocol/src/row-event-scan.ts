import type { ChangeEvent } from './change-event.js';
import { eventWithJsonRow, JsonRow, type JsonRowOperation } from './json-row.js';
import type { Relation } from './relation.js';

const ascii = (text: string): Buffer => Buffer.from(text, 'latin1');
const SCHEMA = ascii('{"schema":');
const TABLE = ascii(',"table":');
const TIMESTAMP = ascii(',"timestamp":');
const LSN = ascii(',"lsn":');
const COMMIT_LSN = ascii(',"commit_lsn":');
const XID = ascii(',"xid":');
const SEQ = ascii(',"seq":');
const INSERT_DATA = ascii(',"operation":"INSERT","data":{');
const UPDATE_DATA = ascii(',"operation":"UPDATE","data":{');
/** After an INSERT's row, and an UPDATE's that sends no old row and no unchanged-TOAST column. */
const NEW_ROW_END = ascii('},"old_data":null,"unchanged_toast":[]}');
const DELETE_OLD = ascii(',"operation":"DELETE","data":null,"old_data":{');
const DELETE_END = ascii('},"unchanged_toast":[]}');
/** Each one-row operation's opening, up to its row's `{`. */
const OPENINGS: readonly (readonly [JsonRowOperation, Buffer])[] = [
  ['INSERT', INSERT_DATA],
  ['UPDATE', UPDATE_DATA],
  ['DELETE', DELETE_OLD],
];
const NULL = ascii('null');

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COMMA = 0x2c;
const COLON = 0x3a;
const CLOSE_BRACE = 0x7d;
const DIGIT_0 = 0x30;
const DIGIT_9 = 0x39;
/** Digits of an integer read here: below 2^53 (a larger xid or seq goes the slow way, and is refused there). */
const MAX_DIGITS = 15;

/** Bytes that may follow a backslash in a JSON string, besides `u`. */
const SHORT_ESCAPES = new Uint8Array(256);
for (const letter of '"\\/bfnrt') SHORT_ESCAPES[letter.charCodeAt(0)] = 1;
/** 1 for a byte that stands for itself inside a JSON string: not a quote, a backslash or a control character. */
const PLAIN_STRING_BYTE = new Uint8Array(256).fill(1);
PLAIN_STRING_BYTE.fill(0, 0, 0x20);
PLAIN_STRING_BYTE[QUOTE] = 0;
PLAIN_STRING_BYTE[BACKSLASH] = 0;
/** Value of a hex digit + 1 (0: not one). */
const HEX = new Uint8Array(256);
for (let digit = 0; digit < 16; digit += 1) {
  HEX['0123456789abcdef'.charCodeAt(digit)] = digit + 1;
  HEX['0123456789ABCDEF'.charCodeAt(digit)] = digit + 1;
}

interface RelationShape {
  relation: Relation;
  schemaBytes: Buffer;
  tableBytes: Buffer;
  names: readonly string[];
  nameBytes: readonly Buffer[];
  /** Member-name lists already met, by the member indexes joined (the common one: every column in order). */
  shapes: Map<string, readonly string[]>;
  allColumns: readonly string[];
}

/**
 * Reads an event with one row — an INSERT, an UPDATE that sends no old row and no
 * unchanged-TOAST column, a DELETE — written exactly as the replicator writes one (change-json.ts:
 * members in the schema's order, no whitespace, no escape in a name) into an event whose row
 * stays as JSON bytes (json-row.ts). Anything else — another operation or shape, another
 * spelling, a name that is not a column of the relation, a repeated member, an escape that
 * decodes to a lone surrogate, an integer of 16 digits or more — is left to `JSON.parse`
 * (undefined): it decides what is valid JSON, exactly as before. What this accepts,
 * `JSON.parse` accepts too and decodes to the same event; the payload must have been checked to
 * be UTF-8 first (the caller). Whether the row's columns identify it (an UPDATE's key, a
 * DELETE's replica identity) is the event check's to say, from the member names.
 */
export class RowEventScanner {
  private readonly relations: RelationShape[];
  private readonly seen: Uint32Array;
  private stamp = 0;
  /** The previous event's strings, reused when the next has the same bytes (one transaction's events share them). */
  private previous: { timestamp: string; commitLsn: string; spans: number[]; bytes: Buffer | undefined } = {
    timestamp: '',
    commitLsn: '',
    spans: [0, 0, 0, 0, 0, 0, 0, 0],
    bytes: undefined,
  };

  constructor(relations: readonly Relation[]) {
    this.relations = relations.map((relation) => {
      const names = relation.columns.map((column) => column.name);
      return {
        relation,
        schemaBytes: Buffer.from(relation.schema, 'utf8'),
        tableBytes: Buffer.from(relation.table, 'utf8'),
        names,
        nameBytes: names.map((name) => Buffer.from(name, 'utf8')),
        shapes: new Map(),
        allColumns: names,
      };
    });
    this.seen = new Uint32Array(Math.max(1, ...relations.map((relation) => relation.columns.length)));
  }

  /** Just past the last event `scan` read. */
  end = 0;

  /** The one-row event at `start` (ending before `end`), or undefined (then `JSON.parse` reads it). */
  scan(bytes: Buffer, start: number, end: number): ChangeEvent | undefined {
    let at = literal(bytes, start, end, SCHEMA);
    const schemaAt = at;
    at = plainString(bytes, at, end);
    const schemaEnd = at;
    at = literal(bytes, at, end, TABLE);
    const tableAt = at;
    at = plainString(bytes, at, end);
    const tableEnd = at;
    at = literal(bytes, at, end, TIMESTAMP);
    const timestampAt = at;
    at = plainString(bytes, at, end);
    const timestampEnd = at;
    at = literal(bytes, at, end, LSN);
    const lsnAt = at;
    at = plainString(bytes, at, end);
    const lsnEnd = at;
    at = literal(bytes, at, end, COMMIT_LSN);
    const commitAt = at;
    at = plainString(bytes, at, end);
    const commitEnd = at;
    at = literal(bytes, at, end, XID);
    const xidAt = at;
    at = digits(bytes, at, end);
    const xidEnd = at;
    at = literal(bytes, at, end, SEQ);
    const seqAt = at;
    at = digits(bytes, at, end);
    const seqEnd = at;
    if (at < 0) return undefined;
    const opening = OPENINGS.find(([, literalBytes]) => literal(bytes, at, end, literalBytes) >= 0);
    if (opening === undefined) return undefined;
    const [operation, openingBytes] = opening;
    at += openingBytes.length;
    const shape = this.relationOf(bytes, schemaAt + 1, schemaEnd - 1, tableAt + 1, tableEnd - 1);
    if (shape === undefined) return undefined;
    const rowStart = at - 1;
    const members = this.row(shape, bytes, at, end);
    if (members === undefined) return undefined;
    at = members.end;
    const after = literal(bytes, at, end, operation === 'DELETE' ? DELETE_END : NEW_ROW_END);
    if (after < 0) return undefined;
    this.end = after;

    const previous = this.previous;
    const sameBytes = previous.bytes === bytes;
    const timestamp = sameBytes && sameSpan(bytes, previous.spans[4]!, previous.spans[5]!, timestampAt, timestampEnd) ? previous.timestamp : bytes.toString('utf8', timestampAt + 1, timestampEnd - 1);
    const commitLsn = sameBytes && sameSpan(bytes, previous.spans[6]!, previous.spans[7]!, commitAt, commitEnd) ? previous.commitLsn : bytes.toString('utf8', commitAt + 1, commitEnd - 1);
    previous.spans[4] = timestampAt;
    previous.spans[5] = timestampEnd;
    previous.spans[6] = commitAt;
    previous.spans[7] = commitEnd;
    previous.bytes = bytes;
    previous.timestamp = timestamp;
    previous.commitLsn = commitLsn;
    return eventWithJsonRow(
      operation,
      {
        schema: shape.relation.schema,
        table: shape.relation.table,
        timestamp,
        lsn: bytes.toString('latin1', lsnAt + 1, lsnEnd - 1),
        commit_lsn: commitLsn,
        xid: integer(bytes, xidAt, xidEnd),
        seq: integer(bytes, seqAt, seqEnd),
      },
      new JsonRow(bytes, rowStart, at + 1, members.columns),
    );
  }

  /** The relation named by the two spans (string contents, no escapes), if the batch has it. */
  private relationOf(bytes: Buffer, schemaFrom: number, schemaTo: number, tableFrom: number, tableTo: number): RelationShape | undefined {
    if (schemaFrom < 0 || tableFrom < 0) return undefined;
    for (const shape of this.relations) {
      if (equalBytes(bytes, tableFrom, tableTo, shape.tableBytes) && equalBytes(bytes, schemaFrom, schemaTo, shape.schemaBytes)) return shape;
    }
    return undefined;
  }

  /**
   * The members of a row object whose `{` is just before `at`, up to its `}` (`end` points at
   * it); undefined when a member is not a column, is repeated, or is not spelled as expected.
   */
  private row(shape: RelationShape, bytes: Buffer, at: number, limit: number): { end: number; columns: readonly string[] } | undefined {
    const seen = this.seen;
    const stamp = ++this.stamp;
    if (stamp === 0xffffffff) {
      seen.fill(0);
      this.stamp = 1;
    }
    const { nameBytes } = shape;
    let inOrder = true;
    let indexes: number[] | undefined;
    let count = 0;
    let expected = 0;
    if (bytes[at] === CLOSE_BRACE) return { end: at, columns: this.shapeOf(shape, [], true, 0) };
    for (;;) {
      const nameEnd = plainString(bytes, at, limit);
      if (nameEnd < 0) return undefined;
      let index = expected < nameBytes.length && equalBytes(bytes, at + 1, nameEnd - 1, nameBytes[expected]!) ? expected : -1;
      if (index < 0) {
        for (let candidate = 0; candidate < nameBytes.length; candidate += 1) {
          if (equalBytes(bytes, at + 1, nameEnd - 1, nameBytes[candidate]!)) {
            index = candidate;
            break;
          }
        }
        if (index < 0) return undefined;
      }
      if (seen[index] === this.stamp) return undefined;
      seen[index] = this.stamp;
      if (index !== count) inOrder = false;
      if (!inOrder || indexes !== undefined) {
        indexes ??= Array.from({ length: count }, (_, position) => position);
        indexes.push(index);
      }
      count += 1;
      expected = index + 1;
      at = nameEnd;
      if (bytes[at++] !== COLON) return undefined;
      if (bytes[at] === QUOTE) at = jsonString(bytes, at, limit);
      else at = literal(bytes, at, limit, NULL);
      if (at < 0) return undefined;
      const next = bytes[at];
      if (next === CLOSE_BRACE) break;
      if (next !== COMMA) return undefined;
      at += 1;
    }
    return { end: at, columns: this.shapeOf(shape, indexes, inOrder, count) };
  }

  private shapeOf(shape: RelationShape, indexes: number[] | undefined, inOrder: boolean, count: number): readonly string[] {
    if (inOrder && count === shape.names.length) return shape.allColumns;
    const list = indexes ?? Array.from({ length: count }, (_, position) => position);
    const key = list.join(',');
    let columns = shape.shapes.get(key);
    if (columns === undefined) shape.shapes.set(key, (columns = list.map((index) => shape.names[index]!)));
    return columns;
  }
}

/** Just past `expected` when the bytes at `at` are exactly it, else -1 (also when `at` is -1). */
function literal(bytes: Buffer, at: number, limit: number, expected: Buffer): number {
  if (at < 0 || at + expected.length > limit) return -1;
  for (let index = 0; index < expected.length; index += 1) if (bytes[at + index] !== expected[index]) return -1;
  return at + expected.length;
}

/** Just past the closing quote of a string at `at` with no escape and no control character, else -1. */
function plainString(bytes: Buffer, at: number, limit: number): number {
  if (at < 0 || bytes[at] !== QUOTE) return -1;
  for (at += 1; at < limit; at += 1) {
    const byte = bytes[at]!;
    if (byte === QUOTE) return at + 1;
    if (byte === BACKSLASH || byte < 0x20) return -1;
  }
  return -1;
}

/**
 * Just past the closing quote of the JSON string at `at`, else -1: no control character, only
 * JSON's escapes, and no `\u` escape of a surrogate (a pair would decode fine, but is left to
 * JSON.parse, as is a lone one, which decodes to a string no UTF-8 can hold).
 */
export function jsonString(bytes: Buffer, at: number, limit: number): number {
  for (at += 1; at < limit; ) {
    // The hot loop: one table look-up per plain byte.
    while (PLAIN_STRING_BYTE[bytes[at]!] === 1) at += 1;
    if (at >= limit) return -1;
    const byte = bytes[at]!;
    if (byte === QUOTE) return at + 1;
    if (byte !== BACKSLASH) return -1;
    const escape = bytes[at + 1]!;
    if (SHORT_ESCAPES[escape] === 1) {
      at += 2;
      continue;
    }
    if (escape !== 0x75 || at + 6 > limit) return -1; // u
    const a = HEX[bytes[at + 2]!]!;
    const b = HEX[bytes[at + 3]!]!;
    const c = HEX[bytes[at + 4]!]!;
    const d = HEX[bytes[at + 5]!]!;
    if (a === 0 || b === 0 || c === 0 || d === 0) return -1;
    const code = ((a - 1) << 12) | ((b - 1) << 8) | ((c - 1) << 4) | (d - 1);
    if (code >= 0xd800 && code <= 0xdfff) return -1;
    at += 6;
  }
  return -1;
}

/** Just past a JSON integer of at most MAX_DIGITS digits at `at`, else -1. */
function digits(bytes: Buffer, at: number, limit: number): number {
  if (at < 0) return -1;
  const start = at;
  while (at < limit && bytes[at]! >= DIGIT_0 && bytes[at]! <= DIGIT_9) at += 1;
  const count = at - start;
  if (count === 0 || count > MAX_DIGITS || (count > 1 && bytes[start] === DIGIT_0)) return -1;
  return at;
}

function integer(bytes: Buffer, from: number, to: number): number {
  let value = 0;
  for (let at = from; at < to; at += 1) value = value * 10 + (bytes[at]! - DIGIT_0);
  return value;
}

function sameSpan(bytes: Buffer, from: number, to: number, otherFrom: number, otherTo: number): boolean {
  if (to - from !== otherTo - otherFrom) return false;
  for (let index = 0; index < to - from; index += 1) if (bytes[from + index] !== bytes[otherFrom + index]) return false;
  return true;
}

function equalBytes(bytes: Buffer, from: number, to: number, expected: Buffer): boolean {
  if (to - from !== expected.length) return false;
  for (let index = 0; index < expected.length; index += 1) if (bytes[from + index] !== expected[index]) return false;
  return true;
}
