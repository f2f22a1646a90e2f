// The replicator's decode path before issue 14 (commit 9274c0b: a string per value, an event object
// per change, JSON.stringify per batch), kept only as the tests' oracle for the bytes written now.
import { type ChangeEvent, formatLsn, type Lsn, type Row } from '@storx-backup/protocol';
import { pgTimestampToIso, pgTimestampToUnixMs } from '../../src/decode/commit-time.js';
import { type PgoutputMessage, type RelationColumn, type TupleValue, UNCHANGED_TOAST } from './old-pgoutput-messages.js';

/** A relation as the stream described it (the description in force when the change was made). */
export interface DecodedRelation {
  relationId: number;
  schema: string;
  table: string;
  replicaIdentity: 'd' | 'n' | 'f' | 'i';
  columns: readonly RelationColumn[];
}

/**
 * True when `relations` holds another relation id under the same schema and table name: the
 * table was dropped and created again. One batch (or chunk) describes each table name once.
 */
export function hasOtherWithName(relations: ReadonlyMap<number, DecodedRelation>, id: number, named: { schema: string; table: string }): boolean {
  for (const [otherId, other] of relations) {
    if (otherId !== id && other.schema === named.schema && other.table === named.table) return true;
  }
  return false;
}

/**
 * A whole transaction, or one chunk of a transaction too large to hold at once. Chunks of one
 * transaction share `commitLsn`; only the last has `last` and the commit's `endLsn`, the
 * position the slot may be acknowledged to once it is delivered.
 */
export interface TransactionPart {
  xid: number;
  /** LSN of the commit record (pgoutput's Begin "final LSN"): the receiver's watermark unit. */
  commitLsn: Lsn;
  chunkIndex: number;
  last: boolean;
  /** `seq` of the last change of the chunk before this one; undefined on the first. */
  afterSeq: number | undefined;
  /** End of the commit record; set when `last`. */
  endLsn: Lsn | undefined;
  /** Commit time, Unix ms. */
  commitTimeMs: number;
  events: ChangeEvent[];
  /** Relations the events refer to, by relation id. */
  relations: Map<number, DecodedRelation>;
  /** Rough payload size, for batching. */
  bytes: number;
}

export interface AssemblerOptions {
  /** `schema\0table` of the tables to replicate; other relations' changes are dropped. */
  includedTables: ReadonlySet<string>;
  /** A transaction reaching this many payload bytes is handed on as a chunk. */
  maxPartBytes: number;
  /** Receives parts in WAL order. */
  emit: (part: TransactionPart) => void;
}

interface OpenTransaction {
  xid: number;
  /** Changes decoded so far in this transaction, replicated or not: the next event's `seq`. */
  changes: number;
  commitLsn: Lsn;
  /** `commitLsn` as text, formatted once per transaction rather than once per change. */
  commitLsnText: string;
  commitTime: string;
  commitTimeMs: number;
  chunkIndex: number;
  /** `seq` of the last change handed on in an earlier chunk. */
  afterSeq: number | undefined;
  events: ChangeEvent[];
  relations: Map<number, DecodedRelation>;
  bytes: number;
}

const EVENT_OVERHEAD_BYTES = 160;

/**
 * Turns pgoutput messages into change events grouped by transaction. Changes to tables outside
 * the list are dropped here, but their transaction still produces a (possibly empty) part: the
 * slot may only move past it in order, after everything before it was delivered.
 */
export class TransactionAssembler {
  private readonly relations = new Map<number, DecodedRelation & { included: boolean }>();
  private open: OpenTransaction | undefined;
  private lastLsn = -1n;
  private lastLsnText = '';

  constructor(private readonly options: AssemblerOptions) {}

  /** True while a transaction has begun and not committed. */
  get inTransaction(): boolean {
    return this.open !== undefined;
  }

  /** Forget everything (after a reconnect the server resends from the slot). */
  reset(): void {
    this.open = undefined;
    this.relations.clear();
  }

  handle(walStart: bigint, message: PgoutputMessage): void {
    switch (message.tag) {
      case 'begin':
        this.open = {
          xid: message.xid,
          changes: 0,
          commitLsn: message.finalLsn as Lsn,
          commitLsnText: formatLsn(message.finalLsn as Lsn),
          commitTime: pgTimestampToIso(message.commitTime),
          commitTimeMs: pgTimestampToUnixMs(message.commitTime),
          chunkIndex: 0,
          afterSeq: undefined,
          events: [],
          relations: new Map(),
          bytes: 0,
        };
        return;
      case 'commit': {
        const open = this.requireOpen('COMMIT');
        this.open = undefined;
        this.options.emit(this.part(open, true, message.endLsn as Lsn));
        return;
      }
      case 'relation':
        // A table altered (or dropped and created again under its name) inside the transaction:
        // its earlier changes travel with the earlier description, so close the chunk they are in.
        if (this.open !== undefined && (this.open.relations.has(message.relationId) || hasOtherWithName(this.open.relations, message.relationId, { schema: message.schema, table: message.name }))) this.closeChunk();
        this.relations.set(message.relationId, {
          relationId: message.relationId,
          schema: message.schema,
          table: message.name,
          replicaIdentity: message.replicaIdentity,
          columns: message.columns,
          included: this.options.includedTables.has(`${message.schema}\0${message.name}`),
        });
        return;
      case 'insert':
        this.add(walStart, message.relationId, (relation, common) => ({ ...common, operation: 'INSERT', data: newRow(relation, message.newTuple).row, old_data: null, unchanged_toast: [] }));
        return;
      case 'update':
        this.add(walStart, message.relationId, (relation, common) => {
          const { row, unchanged } = newRow(relation, message.newTuple);
          const old = message.oldTuple === undefined ? null : oldRow(relation, message.oldTuple, message.oldKind === 'K');
          return { ...common, operation: 'UPDATE', data: row, old_data: old, unchanged_toast: unchanged };
        });
        return;
      case 'delete':
        this.add(walStart, message.relationId, (relation, common) => ({ ...common, operation: 'DELETE', data: null, old_data: oldRow(relation, message.oldTuple, message.oldKind === 'K'), unchanged_toast: [] }));
        return;
      case 'truncate':
        for (const relationId of message.relationIds) {
          this.add(walStart, relationId, (_relation, common) => ({ ...common, operation: 'TRUNCATE', data: null, old_data: null, unchanged_toast: [] }));
        }
        return;
      case 'message':
      case 'origin':
      case 'type':
        return;
    }
  }

  private add(walStart: bigint, relationId: number, build: (relation: DecodedRelation, common: Omit<ChangeEvent, 'operation' | 'data' | 'old_data' | 'unchanged_toast'>) => ChangeEvent): void {
    const open = this.requireOpen('a change');
    const relation = this.relations.get(relationId);
    if (relation === undefined) throw new Error(`pgoutput: change for relation ${relationId} before its RELATION message`);
    const seq = open.changes;
    open.changes += 1;
    if (!relation.included) return;
    // A full chunk is handed on only now that another change follows: so the last part of a
    // split transaction is never empty, and always ends it.
    if (open.bytes >= this.options.maxPartBytes) this.closeChunk();
    const event = build(relation, {
      schema: relation.schema,
      table: relation.table,
      timestamp: open.commitTime,
      lsn: this.lsnText(walStart),
      commit_lsn: open.commitLsnText,
      xid: open.xid,
      seq,
    });
    open.events.push(event);
    open.relations.set(relationId, relation);
    open.bytes += EVENT_OVERHEAD_BYTES + rowBytes(event.data) + rowBytes(event.old_data);
  }

  /** The change's LSN as text; consecutive changes often share one (a COPY's rows, one WAL record). */
  private lsnText(walStart: bigint): string {
    if (walStart !== this.lastLsn) {
      this.lastLsn = walStart;
      this.lastLsnText = formatLsn(walStart as Lsn);
    }
    return this.lastLsnText;
  }

  /** Hands the open transaction's events so far on as a chunk (never an empty one). */
  private closeChunk(): void {
    const open = this.open;
    if (open === undefined || open.events.length === 0) return;
    this.options.emit(this.part(open, false, undefined));
    open.chunkIndex += 1;
    open.afterSeq = open.events.at(-1)!.seq;
    open.events = [];
    open.relations = new Map();
    open.bytes = 0;
  }

  private part(open: OpenTransaction, last: boolean, endLsn: Lsn | undefined): TransactionPart {
    return { xid: open.xid, commitLsn: open.commitLsn, chunkIndex: open.chunkIndex, last, afterSeq: open.afterSeq, endLsn, commitTimeMs: open.commitTimeMs, events: open.events, relations: open.relations, bytes: open.bytes };
  }

  private requireOpen(what: string): OpenTransaction {
    if (this.open === undefined) throw new Error(`pgoutput: ${what} outside a transaction`);
    return this.open;
  }
}

function newRow(relation: DecodedRelation, tuple: readonly TupleValue[]): { row: Row; unchanged: string[] } {
  const row: Row = {};
  const unchanged: string[] = [];
  const { columns } = relation;
  for (let index = 0; index < columns.length; index += 1) {
    const value = tuple[index];
    const name = columns[index]!.name;
    if (value === UNCHANGED_TOAST) unchanged.push(name);
    else row[name] = value ?? null;
  }
  return { row, unchanged };
}

/** Old key ('K': key columns only; the others are sent as NULL) or old row ('O', REPLICA IDENTITY FULL). */
function oldRow(relation: DecodedRelation, tuple: readonly TupleValue[], keyOnly: boolean): Row {
  const row: Row = {};
  const { columns } = relation;
  for (let index = 0; index < columns.length; index += 1) {
    const column = columns[index]!;
    const value = tuple[index];
    if ((keyOnly && !column.isKey) || value === UNCHANGED_TOAST) continue;
    row[column.name] = value ?? null;
  }
  return row;
}

function rowBytes(row: Row | null): number {
  if (row === null) return 0;
  let bytes = 0;
  for (const key in row) bytes += key.length + (row[key]?.length ?? 4) + 6;
  return bytes;
}
