import { formatLsn, JsonBytes, type Lsn } from '@storx-backup/protocol';
import { EncodedEvents } from '../batch/encoded-events.js';
import { UserTypedValues } from '../batch/user-typed-values.js';
import { ChangeJsonWriter, type ChangeContext } from './change-json.js';
import { pgTimestampToIso, pgTimestampToUnixMs } from './commit-time.js';
import { type DecodedRelation, hasOtherWithName } from './decoded-relation.js';
import type { PgoutputMessage } from './pgoutput-messages.js';
import { RelationJson } from './relation-json.js';

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
  /** What the JSON of each change of this transaction shares (see ChangeContext). */
  context: ChangeContext;
  chunkIndex: number;
  /** `seq` of the last change handed on in an earlier chunk. */
  afterSeq: number | undefined;
  /** `seq` of the last change written in the current chunk. */
  lastSeq: number | undefined;
  /** Changes written in the current chunk (its bytes are `out.pending`). */
  events: number;
  /** Values of user-typed columns in the current chunk. */
  typed: UserTypedValues;
  relations: Map<number, DecodedRelation>;
}

/**
 * The assembler's buffer: parts are views of it, and it is replaced (not grown in place) when
 * full, so its size bounds how often that happens. Pages are touched only as they are written.
 */
const PART_BUFFER_BYTES = 4 * 1024 * 1024;
/** Room for each of a transaction's two shared JSON pieces (both are under 100 bytes). */
const CONTEXT_REGION_BYTES = 128;
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
  /** Where the open transaction's shared JSON pieces are written (see `contextBytes`). */
  private readonly contextScratch = Buffer.alloc(2 * CONTEXT_REGION_BYTES);

  constructor(private readonly options: AssemblerOptions) {
    this.out = new JsonBytes(PART_BUFFER_BYTES);
    this.writer = new ChangeJsonWriter(this.out, () => this.requireOpen('a change').typed);
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
        const commitLsnText = formatLsn(message.finalLsn as Lsn);
        this.out.discard();
        this.open = {
          xid: message.xid,
          changes: 0,
          commitLsn: message.finalLsn as Lsn,
          commitTimeMs: pgTimestampToUnixMs(message.commitTime),
          context: {
            // An ISO timestamp needs no JSON escaping.
            timestampLsn: this.contextBytes(0, `"${pgTimestampToIso(message.commitTime)}","lsn":"`),
            lsnHigh: 0,
            lsnLow: 0,
            commitXidSeq: this.contextBytes(CONTEXT_REGION_BYTES, `","commit_lsn":"${commitLsnText}","xid":${message.xid},"seq":`),
            seq: 0,
          },
          chunkIndex: 0,
          afterSeq: undefined,
          lastSeq: undefined,
          events: 0,
          typed: new UserTypedValues(),
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
        if (relation !== undefined) this.writer.insert(relation, this.open!.context, message.buffer, message.newTuple);
        return;
      }
      case 'update': {
        const relation = this.change(walStart, message.relationId);
        if (relation !== undefined) this.writer.update(relation, this.open!.context, message.buffer, message.oldTuple, message.oldKind === 'K', message.newTuple);
        return;
      }
      case 'delete': {
        const relation = this.change(walStart, message.relationId);
        if (relation !== undefined) this.writer.delete(relation, this.open!.context, message.buffer, message.oldTuple, message.oldKind === 'K');
        return;
      }
      case 'truncate':
        for (const relationId of message.relationIds) {
          const relation = this.change(walStart, relationId);
          if (relation !== undefined) this.writer.truncate(relation, this.open!.context);
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
    const { context } = open;
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

  /**
   * `text` as latin1 bytes in the context scratch at `offset`: written in place instead of a
   * Buffer allocated per transaction (measured: two allocations per single-row transaction
   * were ~10% of the replicator's CPU catching up a backlog of them). Only the open
   * transaction's context uses the scratch, and a new one begins only after it ended.
   */
  private contextBytes(offset: number, text: string): Buffer {
    if (text.length > CONTEXT_REGION_BYTES) return Buffer.from(text, 'latin1');
    const written = this.contextScratch.write(text, offset, 'latin1');
    return this.contextScratch.subarray(offset, offset + written);
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
    open.typed = new UserTypedValues();
    return { xid: open.xid, commitLsn: open.commitLsn, chunkIndex: open.chunkIndex, last, afterSeq: open.afterSeq, endLsn, commitTimeMs: open.commitTimeMs, events, relations: open.relations, bytes: events.byteLength };
  }

  private requireOpen(what: string): OpenTransaction {
    if (this.open === undefined) throw new Error(`pgoutput: ${what} outside a transaction`);
    return this.open;
  }
}
