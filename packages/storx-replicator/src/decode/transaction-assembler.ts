import { JsonBytes, type Lsn } from '@storx-backup/protocol';
import { EncodedEvents } from '../batch/encoded-events.js';
import { UserTypedValues } from '../batch/user-typed-values.js';
import { ChangeJsonWriter, type ChangeContext } from './change-json.js';
import { pgTimestampToUnixMs } from './commit-time.js';
import { type DecodedRelation, hasOtherWithName } from './decoded-relation.js';
import type { PgoutputMessage } from './pgoutput-messages.js';
import { RelationJson } from './relation-json.js';
import { TRANSACTION_CONTEXT_BYTES, writeTransactionContext } from './transaction-context.js';

export { type DecodedRelation, hasOtherWithName } from './decoded-relation.js';

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
  /** The changes, already written as their events' JSON. */
  events: EncodedEvents;
  /** Relations the events refer to, by relation id. */
  relations: Map<number, DecodedRelation>;
  /** Bytes of the events' JSON, for batching. */
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
  commitTimeMs: number;
  chunkIndex: number;
  /** `seq` of the last change handed on in an earlier chunk. */
  afterSeq: number | undefined;
  /** `seq` of the last change written in the current chunk. */
  lastSeq: number | undefined;
  /** Changes written in the current chunk (its bytes are `out.pending`). */
  events: number;
  /** Values of user-typed columns in the current chunk (made at the first one: most tables have none). */
  typed: UserTypedValues | undefined;
  relations: Map<number, DecodedRelation>;
}

/**
 * The assembler's buffer: parts are views of it, and it is replaced (not grown in place) when
 * full, so its size bounds how often that happens. Pages are touched only as they are written.
 */
const PART_BUFFER_BYTES = 4 * 1024 * 1024;
/** Positions below this (8 PiB of WAL) convert to a double exactly. */
const EXACT_IN_DOUBLE = 2n ** 53n;

/**
 * Turns pgoutput messages into change events grouped by transaction, each change written
 * straight from its pgoutput bytes as its event's JSON (change-json.ts): no event object, no
 * string per value. Changes to tables outside the list are dropped here, but their transaction
 * still produces a (possibly empty) part: the slot may only move past it in order, after
 * everything before it was delivered.
 */
export class TransactionAssembler {
  private readonly relations = new Map<number, RelationJson & { included: boolean }>();
  private open: OpenTransaction | undefined;
  /** Every part's events are written here, one after the other; a part takes its bytes as a view. */
  private readonly out: JsonBytes;
  private readonly writer: ChangeJsonWriter;
  /**
   * What the open transaction's changes share (its JSON pieces written into one reused buffer,
   * see transaction-context.ts): only the open transaction uses it, and a new one begins only
   * after it ended. Measured: allocating these per transaction was ~10% of the replicator's CPU
   * catching up a backlog of single-row transactions.
   */
  private readonly context: ChangeContext = { shared: Buffer.alloc(TRANSACTION_CONTEXT_BYTES), timestampLsnEnd: 0, commitXidSeqStart: 0, commitXidSeqEnd: 0, lsnHigh: 0, lsnLow: 0, seq: 0 };

  constructor(private readonly options: AssemblerOptions) {
    this.out = new JsonBytes(PART_BUFFER_BYTES);
    this.writer = new ChangeJsonWriter(this.out, () => (this.requireOpen('a change').typed ??= new UserTypedValues()));
  }

  /** True while a transaction has begun and not committed. */
  get inTransaction(): boolean {
    return this.open !== undefined;
  }

  /** Forget everything (after a reconnect the server resends from the slot). */
  reset(): void {
    this.open = undefined;
    this.out.discard();
    this.relations.clear();
  }

  handle(walStart: bigint, message: PgoutputMessage): void {
    switch (message.tag) {
      case 'begin': {
        this.out.discard();
        writeTransactionContext(this.context, message.finalLsn, message.commitTime, message.xid);
        this.open = {
          xid: message.xid,
          changes: 0,
          commitLsn: message.finalLsn as Lsn,
          commitTimeMs: pgTimestampToUnixMs(message.commitTime),
          chunkIndex: 0,
          afterSeq: undefined,
          lastSeq: undefined,
          events: 0,
          typed: undefined,
          relations: new Map(),
        };
        return;
      }
      case 'commit': {
        const open = this.requireOpen('COMMIT');
        this.open = undefined;
        this.options.emit(this.part(open, true, message.endLsn as Lsn));
        return;
      }
      case 'relation': {
        // A table altered (or dropped and created again under its name) inside the transaction:
        // its earlier changes travel with the earlier description, so close the chunk they are in.
        if (this.open !== undefined && (this.open.relations.has(message.relationId) || hasOtherWithName(this.open.relations, message.relationId, { schema: message.schema, table: message.name }))) this.closeChunk();
        const relation: DecodedRelation = { relationId: message.relationId, schema: message.schema, table: message.name, replicaIdentity: message.replicaIdentity, columns: message.columns };
        this.relations.set(message.relationId, Object.assign(new RelationJson(relation), { included: this.options.includedTables.has(`${message.schema}\0${message.name}`) }));
        return;
      }
      case 'insert': {
        const relation = this.change(walStart, message.relationId);
        if (relation !== undefined) this.writer.insert(relation, this.context, message.buffer, message.newTuple);
        return;
      }
      case 'update': {
        const relation = this.change(walStart, message.relationId);
        if (relation !== undefined) this.writer.update(relation, this.context, message.buffer, message.oldTuple, message.oldKind === 'K', message.newTuple);
        return;
      }
      case 'delete': {
        const relation = this.change(walStart, message.relationId);
        if (relation !== undefined) this.writer.delete(relation, this.context, message.buffer, message.oldTuple, message.oldKind === 'K');
        return;
      }
      case 'truncate':
        for (const relationId of message.relationIds) {
          const relation = this.change(walStart, relationId);
          if (relation !== undefined) this.writer.truncate(relation, this.context);
        }
        return;
      case 'message':
      case 'origin':
      case 'type':
        return;
    }
  }

  /**
   * Counts a change of the open transaction and, when its table is replicated, makes it the
   * next event (its context set, its chunk closed first when full) and returns its relation;
   * the caller then writes it.
   */
  private change(walStart: bigint, relationId: number): RelationJson | undefined {
    const open = this.requireOpen('a change');
    const relation = this.relations.get(relationId);
    if (relation === undefined) throw new Error(`pgoutput: change for relation ${relationId} before its RELATION message`);
    const seq = open.changes;
    open.changes += 1;
    if (!relation.included) return undefined;
    // A full chunk is handed on only now that another change follows: so the last part of a
    // split transaction is never empty, and always ends it.
    if (this.out.pending >= this.options.maxPartBytes) this.closeChunk();
    const context = this.context;
    context.seq = seq;
    if (walStart < EXACT_IN_DOUBLE) {
      // Exact in a double: no BigInt arithmetic (each allocates) for the common case.
      const position = Number(walStart);
      context.lsnHigh = Math.floor(position / 2 ** 32);
      context.lsnLow = position >>> 0;
    } else {
      context.lsnHigh = Number(walStart >> 32n);
      context.lsnLow = Number(walStart & 0xffffffffn);
    }
    open.lastSeq = seq;
    open.events += 1;
    open.relations.set(relationId, relation.relation);
    return relation;
  }

  /** Hands the open transaction's events so far on as a chunk (never an empty one). */
  private closeChunk(): void {
    const open = this.open;
    if (open === undefined || open.events === 0) return;
    this.options.emit(this.part(open, false, undefined));
    open.chunkIndex += 1;
    open.afterSeq = open.lastSeq;
    open.relations = new Map();
  }

  /** The current chunk as a part; the next chunk starts empty. */
  private part(open: OpenTransaction, last: boolean, endLsn: Lsn | undefined): TransactionPart {
    const events = new EncodedEvents(open.typed);
    events.add(this.out.take(), open.events);
    open.events = 0;
    open.typed = undefined;
    return { xid: open.xid, commitLsn: open.commitLsn, chunkIndex: open.chunkIndex, last, afterSeq: open.afterSeq, endLsn, commitTimeMs: open.commitTimeMs, events, relations: open.relations, bytes: events.byteLength };
  }

  private requireOpen(what: string): OpenTransaction {
    if (this.open === undefined) throw new Error(`pgoutput: ${what} outside a transaction`);
    return this.open;
  }
}
