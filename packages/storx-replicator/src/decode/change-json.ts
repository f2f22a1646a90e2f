import type { JsonBytes } from '@storx-backup/protocol';
import type { UserTypedValues } from '../batch/user-typed-values.js';
import { ReplicatorError } from '../errors.js';
import { unsupportedKind } from './pgoutput-decoder.js';
import type { TupleAt } from './pgoutput-messages.js';
import type { RelationJson } from './relation-json.js';

const ascii = (text: string): Buffer => Buffer.from(text, 'latin1');
const INSERT_DATA = ascii(',"operation":"INSERT","data":{');
const INSERT_END = ascii('},"old_data":null,"unchanged_toast":[]},');
const UPDATE_DATA = ascii(',"operation":"UPDATE","data":{');
const UPDATE_OLD = ascii('},"old_data":');
const UNCHANGED_OPEN = ascii(',"unchanged_toast":[');
const UPDATE_END = ascii(']},');
const DELETE_OLD = ascii(',"operation":"DELETE","data":null,"old_data":{');
const DELETE_END = ascii('},"unchanged_toast":[]},');
const TRUNCATE_REST = ascii(',"operation":"TRUNCATE","data":null,"old_data":null,"unchanged_toast":[]},');
const NULL = ascii('null');
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;

const TEXT = 0x74; // t
const NULL_VALUE = 0x6e; // n
const UNCHANGED = 0x75; // u

/** Which columns of a tuple become members of the row object. */
const enum Columns {
  /** The new row: every column; unchanged-TOAST ones are listed instead. */
  All,
  /** An old row under REPLICA IDENTITY FULL: every column but unchanged-TOAST ones. */
  AllSent,
  /** An old key: the key columns only (the others are sent as NULL). */
  KeyOnly,
}

/**
 * What every change of one transaction shares, and where the change is. The shared JSON pieces
 * are ranges of `shared` (written once per transaction, see transaction-context.ts), not Buffers
 * of their own: no allocation per transaction.
 */
export interface ChangeContext {
  shared: Buffer;
  /** `"<commit time>","lsn":"` is `shared[0, timestampLsnEnd)`. */
  timestampLsnEnd: number;
  /** `","commit_lsn":"<commit lsn>","xid":<xid>,"seq":` is `shared[commitXidSeqStart, commitXidSeqEnd)`. */
  commitXidSeqStart: number;
  commitXidSeqEnd: number;
  /** The change's LSN, its two 32-bit halves (written as PostgreSQL's text). */
  lsnHigh: number;
  lsnLow: number;
  seq: number;
}

/**
 * Writes one change as the JSON of its event followed by a comma, straight from the pgoutput
 * tuple bytes: byte for byte what `JSON.stringify` made of the event object the assembler used
 * to build, `{schema, table, timestamp, lsn, commit_lsn, xid, seq, operation, data, old_data,
 * unchanged_toast}` in that order (test/change-json.test.ts holds the two together). A value
 * that is not valid UTF-8 is refused, never replaced.
 */
export class ChangeJsonWriter {
  /** Unchanged-TOAST columns of the UPDATE being written (reused). */
  private readonly unchanged: number[] = [];

  constructor(
    private readonly out: JsonBytes,
    private readonly typedValues: () => UserTypedValues,
  ) {}

  insert(relation: RelationJson, context: ChangeContext, buffer: Buffer, newTuple: TupleAt): void {
    this.start(relation, context);
    this.out.raw(INSERT_DATA);
    this.row(relation, buffer, newTuple, Columns.All);
    this.out.raw(INSERT_END);
  }

  update(relation: RelationJson, context: ChangeContext, buffer: Buffer, oldTuple: TupleAt | undefined, keyOnly: boolean, newTuple: TupleAt): void {
    const out = this.out;
    this.start(relation, context);
    out.raw(UPDATE_DATA);
    const unchanged = this.unchanged;
    unchanged.length = 0;
    this.row(relation, buffer, newTuple, Columns.All);
    out.raw(UPDATE_OLD);
    if (oldTuple === undefined) {
      out.raw(NULL);
    } else {
      out.byte(OPEN_BRACE);
      // The old row's unchanged-TOAST columns are left out of it, not listed.
      this.row(relation, buffer, oldTuple, keyOnly ? Columns.KeyOnly : Columns.AllSent);
      out.byte(CLOSE_BRACE);
    }
    out.raw(UNCHANGED_OPEN);
    for (let index = 0; index < unchanged.length; index += 1) out.raw(index === 0 ? relation.names[unchanged[index]!]! : relation.commaNames[unchanged[index]!]!);
    out.raw(UPDATE_END);
  }

  delete(relation: RelationJson, context: ChangeContext, buffer: Buffer, oldTuple: TupleAt, keyOnly: boolean): void {
    this.start(relation, context);
    this.out.raw(DELETE_OLD);
    this.row(relation, buffer, oldTuple, keyOnly ? Columns.KeyOnly : Columns.AllSent);
    this.out.raw(DELETE_END);
  }

  truncate(relation: RelationJson, context: ChangeContext): void {
    this.start(relation, context);
    this.out.raw(TRUNCATE_REST);
  }

  /** `{"schema":…,"table":…,"timestamp":…,"lsn":…,"commit_lsn":…,"xid":…,"seq":…` */
  private start(relation: RelationJson, context: ChangeContext): void {
    const out = this.out;
    out.raw(relation.head);
    out.rawRange(context.shared, 0, context.timestampLsnEnd);
    out.lsn(context.lsnHigh, context.lsnLow);
    out.rawRange(context.shared, context.commitXidSeqStart, context.commitXidSeqEnd);
    out.uint(context.seq);
  }

  /**
   * The members of a row object from the tuple at `at` (braces written by the caller). A column
   * the tuple lacks (a shorter tuple than the relation) is NULL, as it always was.
   */
  private row(relation: RelationJson, buffer: Buffer, at: number, columns: Columns): void {
    const out = this.out;
    const { members, commaMembers, isKey, userTyped } = relation;
    const width = members.length;
    const count = (buffer[at]! << 8) | buffer[at + 1]!;
    at += 2;
    let first = true;
    for (let index = 0; index < width; index += 1) {
      let kind = NULL_VALUE;
      let start = 0;
      let end = 0;
      if (index < count) {
        if (at >= buffer.length) throw truncated();
        kind = buffer[at++]!;
        if (kind === TEXT) {
          if (at + 4 > buffer.length) throw truncated();
          start = at + 4;
          end = start + buffer.readUInt32BE(at);
          if (end > buffer.length) throw truncated();
          at = end;
        } else if (kind !== NULL_VALUE && kind !== UNCHANGED) {
          throw unsupportedKind(kind);
        }
      }
      if (kind === UNCHANGED) {
        if (columns === Columns.All) this.unchanged.push(index);
        continue;
      }
      if (columns === Columns.KeyOnly && !isKey[index]) continue;
      out.raw(first ? members[index]! : commaMembers[index]!);
      first = false;
      if (kind === NULL_VALUE) {
        out.raw(NULL);
      } else {
        if (!out.stringFromUtf8(buffer, start, end)) throw notUtf8(relation, index);
        if (userTyped[index]) this.typedValues().recordBytes(relation.relation.relationId, index, buffer, start, end);
      }
    }
  }
}

function truncated(): Error {
  return new Error('pgoutput: tuple runs past the end of the message');
}

/**
 * The same stop when PostgreSQL finds the bytes first: the walsender converts each value to the
 * connection's client_encoding (UTF8) and, from a SQL_ASCII database, refuses bytes that are not
 * UTF-8 with SQLSTATE 22021. Retrying would read the same WAL again. Undefined: another error.
 */
export function notUtf8FromServer(error: unknown): ReplicatorError | undefined {
  if (!(error instanceof Error) || (error as { code?: unknown }).code !== '22021') return undefined;
  return new ReplicatorError('VALUE_NOT_UTF8', `the source sent a value that is not valid UTF-8 (${error.message}): the source database is SQL_ASCII with non-UTF-8 data, which cannot be carried as text without changing it`, { cause: error });
}

/** A stop (run exits with error and fix), not a retry: reading the same WAL again finds the same bytes. */
function notUtf8(relation: RelationJson, index: number): ReplicatorError {
  const { schema, table, columns } = relation.relation;
  const column = columns[index]!.name;
  return new ReplicatorError(
    'VALUE_NOT_UTF8',
    `column ${JSON.stringify(column)} of ${JSON.stringify(schema)}.${JSON.stringify(table)} holds bytes that are not valid UTF-8; ` +
      'the replication connection asks for UTF8 (client_encoding), so the source database is SQL_ASCII with non-UTF-8 data: such a value cannot be carried as text without changing it',
    {
      fix: [
        `rewrite the value of ${JSON.stringify(column)} in ${JSON.stringify(schema)}.${JSON.stringify(table)} on the source as valid UTF-8 (its row is in the transaction the replicator stopped at), or convert the database to UTF8 (dump and restore into a database created with ENCODING UTF8)`,
        'then start run again: nothing from that transaction on was acknowledged, the slot still holds it',
      ],
    },
  );
}
