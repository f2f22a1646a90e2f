import { type Batch, type ChangeEvent, type CopySection, formatLsn, isPing, parseLsn, type RecordedOrigin, type Relation, relationKey } from '@storx-backup/protocol';
import { sql } from 'kysely';
import type pg from 'pg';
import { type AsynchronousCommit, type BackupDb, toWalPositions, transactionWithClient, WAL_POSITIONS_QUERY, type WalPositions } from '../db.js';
import { DurablePositions } from './durable-positions.js';
import { ReceiverError } from '../errors.js';
import type { TableSync } from '../schema/table-sync.js';
import type { TargetTable } from '../schema/target-table.js';
import { classifyDatabaseError, databaseFailure as toReceiverError } from './database-errors.js';
import { groupedByTable, groupIntoRuns } from './runs.js';
import { RunExecutor } from './run-executor.js';
import { applyCopySection } from './copy-section.js';
import { advancedWatermark, batchPosition, placeBatch, predecessorApplied, predecessorOf, type Watermark } from './watermark.js';
import { lockWatermark, readWatermark } from './watermark-store.js';
import { advanceStatement, lockedState, lockStatements } from './batch-frame.js';
import { type CopyState, placeCopyChunk, streamChangeVersusCopy } from './table-copy.js';
import { readCopyStates, saveCopyState } from './table-copy-store.js';
import { discardStaged, stageChunk, stagedChunks, supersedeStaged } from './staged-chunks.js';
import { checkAndRecordOrigin, readRecordedOrigin } from './source-lineage-store.js';

type SnapshotChunk = NonNullable<Batch['snapshot']>;

/** What a batch's transaction did, before its durability is known. */
type StreamOutcome = { status: 'applied'; watermark: Watermark; events: number } | { status: 'duplicate'; watermark: Watermark };

/** `durable`: how far the (source, slot)'s watermark is known to be on the backup's disk (docs/protocol.md). */
export type ApplyOutcome =
  | { status: 'applied'; watermark: Watermark; events: number; durable: Watermark | undefined }
  | { status: 'duplicate'; watermark: Watermark; durable: Watermark | undefined }
  | { status: 'ping'; watermark: Watermark | undefined; copies: CopyState[]; origin: RecordedOrigin | undefined; durable: Watermark | undefined };

export interface ApplierOptions {
  /**
   * Commit stream batches with `synchronous_commit` on (an fsync per batch, every answer
   * durable); off (the default): commit asynchronously the batches whose sender says it
   * `acknowledges` by the durable position, and report that position apart.
   */
  synchronousCommit?: boolean;
  /** Told when the backup PostgreSQL restarted with watermarks of (source, slot) not known durable (they may be lost). */
  onUnflushedLost?: (sourceId: string, slot: string, latest: Watermark) => void;
}

/**
 * Applies batches: the rows and the watermark in one transaction, so a batch is either wholly
 * applied and remembered, or not at all. A batch at or below the watermark is a duplicate and
 * changes nothing; one that would leave a hole is refused (CHUNK_OUT_OF_ORDER).
 */
export class Applier {
  private readonly durable = new DurablePositions();

  constructor(
    private readonly db: BackupDb,
    /** The pool behind `db`: a batch's transaction runs on a client of its own (COPY needs it). */
    private readonly pool: pg.Pool,
    private readonly tableSync: TableSync,
    private readonly stateSchema: string,
    private readonly options: ApplierOptions = {},
  ) {}

  /** `copy`: a table copy chunk's rows as COPY text (then `batch.events` is empty). */
  async apply(batch: Batch, copy?: CopySection): Promise<ApplyOutcome> {
    // A ping reads (never writes) the watermark: the sender compares it with its slot at start.
    if (isPing(batch)) return this.withDatabaseErrors(() => this.ping(batch));
    // Labels the source's enums gained go in first, each committed on its own: PostgreSQL
    // refuses a label in the transaction that added it.
    await this.withDatabaseErrors(() => this.tableSync.addEnumLabels(this.db, batch.relations));
    try {
      return await this.applyOnce(batch, copy);
    } catch (error) {
      // DDL in the failed transaction was rolled back: forget what the sync cached from it.
      this.tableSync.invalidate();
      const classified = classifyDatabaseError(error);
      if (classified.kind === 'schema-changed') return this.applyOnce(batch, copy).catch((retryError: unknown) => Promise.reject(toReceiverError(retryError)));
      throw toReceiverError(error);
    }
  }

  private async withDatabaseErrors<T>(run: () => Promise<T>): Promise<T> {
    try {
      return await run();
    } catch (error) {
      throw toReceiverError(error);
    }
  }

  /** A ping reads (never writes) the watermark and the table copies: the sender decides at start what to copy and where to stream from. */
  private async ping(batch: Batch): Promise<ApplyOutcome> {
    const watermark = await readWatermark(this.db, this.stateSchema, batch.source_id, batch.slot);
    const copies = await readCopyStates(this.db, this.stateSchema, batch.source_id, batch.slot);
    const origin = await readRecordedOrigin(this.db, this.stateSchema, batch.source_id, batch.slot);
    // Read after the watermark: the positions bound the commit that wrote it, so the ping
    // answers (and settles) the durable position without any batch (the sender polls it so).
    const { rows } = await sql.raw<{ insert_lsn: string; flush_lsn: string; server_start: string }>(WAL_POSITIONS_QUERY).execute(this.db);
    const durable = watermark === undefined ? this.durable.durable(batch.source_id, batch.slot) : this.durable.committed(batch.source_id, batch.slot, watermark, toWalPositions(rows[0]!), this.options.onUnflushedLost);
    return { status: 'ping', watermark, copies: [...copies.values()], origin, durable };
  }

  private async applyOnce(batch: Batch, copy: CopySection | undefined): Promise<ApplyOutcome> {
    if (batch.snapshot) {
      // Table copies commit synchronously (few, large): what they answer is on disk.
      const outcome = await this.applyCopyChunk(batch, batch.snapshot, copy);
      return { ...outcome, durable: this.durable.flushed(batch.source_id, batch.slot, outcome.watermark) };
    }
    // A sender that does not say it acknowledges by the durable position takes a 2xx for "on
    // disk" (one older than it): its batches commit synchronously whatever the setting.
    if (this.options.synchronousCommit === true || batch.acknowledges !== 'durable') {
      const outcome = await this.applyStreamBatch(batch, undefined);
      return { ...outcome, durable: this.durable.flushed(batch.source_id, batch.slot, outcome.watermark) };
    }
    let positions: WalPositions | undefined;
    const outcome = await this.applyStreamBatch(batch, { committed: (read) => (positions = read) });
    const durable = positions === undefined ? this.durable.durable(batch.source_id, batch.slot) : this.durable.committed(batch.source_id, batch.slot, outcome.watermark, positions, this.options.onUnflushedLost);
    return { ...outcome, durable };
  }

  /** A batch of the stream, with its watermark, in one transaction (committed asynchronously when `commit` is given). */
  private async applyStreamBatch(batch: Batch, commit: AsynchronousCommit | undefined): Promise<StreamOutcome> {
    const position = batchPosition(batch);
    // The lock and the copies' read go with BEGIN, the watermark's move with COMMIT (batch-frame.ts).
    const opening = lockStatements(this.stateSchema, batch.source_id, batch.slot);
    return transactionWithClient(this.pool, async (trx, client, ends): Promise<StreamOutcome> => {
      const runs = new RunExecutor(trx, client);
      const { watermark, origin, copies } = await lockedState(trx, ends.opened, this.stateSchema, batch.source_id, batch.slot);
      // Before the LSN comparison: on another timeline the same LSN is different WAL, so a batch
      // "below the watermark" from a forked server is not a duplicate, it is a divergence.
      await checkAndRecordOrigin(trx, this.stateSchema, batch, watermark, copies, origin);
      // Under the row lock, the guard of in-order apply with several batches in flight (the route
      // waited for this; another process may not have): a batch is applied only after the one
      // it follows, else it would pass changes never applied and make them "duplicates".
      if (batch.follows !== undefined && !predecessorApplied(watermark, predecessorOf(batch.follows), batch.chunk.after_seq)) {
        throw new ReceiverError('PREDECESSOR_NOT_APPLIED', `source ${batch.source_id}, slot ${batch.slot}: the batch at ${batch.commit_lsn} (chunk ${batch.chunk.index}) follows one at ${batch.follows.commit_lsn} (chunk ${batch.follows.chunk_index}) that is not applied`);
      }
      const placement = placeBatch(watermark, position, batch.events);
      if (placement.kind === 'duplicate') return { status: 'duplicate', watermark };
      if (placement.kind === 'gap') throw new ReceiverError('CHUNK_OUT_OF_ORDER', `source ${batch.source_id}, slot ${batch.slot}: ${placement.reason}`);

      const { events } = placement;
      const applyEvents = async (relations: readonly Relation[], list: readonly ChangeEvent[]): Promise<void> => {
        const tables = await this.tableSync.prepare(trx, relations);
        // Consecutive events are mostly of one table: spare a key string and a lookup for each.
        let last: { event: ChangeEvent; table: TargetTable } | undefined;
        const tableOf = (event: ChangeEvent): TargetTable => {
          if (last === undefined || last.event.table !== event.table || last.event.schema !== event.schema) last = { event, table: tables.get(relationKey(event.schema, event.table))! };
          return last.table;
        };
        for (const run of groupIntoRuns(groupedByTable(notInCopies(list, copies), tableOf), tableOf)) await runs.execute(run);
      };

      // A transaction reaches the tables only in the batch that ends it: the changes of one that
      // continues in a later chunk are staged, and the staged chunks of the watermark's
      // incomplete transaction are applied first (one chunk at a time, through the same
      // statements) once it ends here. So every committed state of the backup is one the source
      // had at a transaction boundary.
      const incomplete = watermark.chunkLast ? undefined : watermark.commitLsn;
      const open = position.chunkLast ? [] : events.filter((event) => parseLsn(event.commit_lsn) === position.commitLsn);
      const complete = open.length === 0 ? events : events.filter((event) => parseLsn(event.commit_lsn) !== position.commitLsn);
      if (incomplete !== undefined && (position.chunkLast || position.commitLsn > incomplete)) {
        for await (const staged of stagedChunks(trx, this.stateSchema, batch.source_id, batch.slot, incomplete)) await applyEvents(staged.relations, staged.events);
        await discardStaged(trx, this.stateSchema, batch.source_id, batch.slot);
      } else if (incomplete === undefined && open.length > 0) {
        // A transaction starts being staged: nothing else may be (a crash cannot leave any; this
        // keeps it so whatever wrote the state before).
        await discardStaged(trx, this.stateSchema, batch.source_id, batch.slot);
      }
      // Every relation of the batch is prepared here, staged or not: a table a chunk cannot go
      // into is refused at that chunk, not at the end of the transaction.
      await applyEvents(batch.relations, complete);
      await stageChunk(trx, this.stateSchema, batch.source_id, batch.slot, position.commitLsn, { relations: batch.relations, events: open });

      // The watermark passes the skipped changes too: they are in the backup, through the copy.
      const advanced = advancedWatermark(watermark, position, events);
      ends.closeWith(advanceStatement(this.stateSchema, batch.source_id, batch.slot, advanced, events.length, events.at(-1)?.timestamp));
      return { status: 'applied', watermark: advanced, events: events.length };
    }, { opening, ...(commit === undefined ? {} : { asynchronous: commit }) });
  }

  /**
   * One chunk of a table copy, with its progress, in one transaction. Chunk 0 empties the backup
   * table first, so a copy restarted after a crash (or a resync) leaves nothing stale behind.
   * The watermark lock serializes it with the source's stream batches.
   */
  private async applyCopyChunk(batch: Batch, chunk: SnapshotChunk, copy: CopySection | undefined): Promise<StreamOutcome> {
    return transactionWithClient(this.pool, async (trx, client): Promise<StreamOutcome> => {
      const { watermark, origin } = await lockWatermark(trx, this.stateSchema, batch.source_id, batch.slot);
      const key = relationKey(chunk.schema, chunk.table);
      const copies = await readCopyStates(trx, this.stateSchema, batch.source_id, batch.slot);
      await checkAndRecordOrigin(trx, this.stateSchema, batch, watermark, copies, origin);
      const state = copies.get(key);
      const imageLsn = parseLsn(chunk.image_lsn);
      const placement = placeCopyChunk(state, { imageLsn, index: chunk.index });
      if (placement.kind === 'duplicate') return { status: 'duplicate', watermark };
      // Sent while the chunk before it was in flight (the route waited for it; another process
      // may not have): transient, the sender sends again from that chunk.
      if (placement.kind === 'gap' && batch.follows !== undefined) {
        throw new ReceiverError('PREDECESSOR_NOT_APPLIED', `source ${batch.source_id}, slot ${batch.slot}, copy of ${chunk.schema}.${chunk.table}: chunk ${chunk.index} follows chunk ${batch.follows.chunk_index}, which is not applied`);
      }
      if (placement.kind === 'gap') throw new ReceiverError('CHUNK_OUT_OF_ORDER', `source ${batch.source_id}, slot ${batch.slot}, copy of ${chunk.schema}.${chunk.table}: ${placement.reason}`);

      const tables = await this.tableSync.prepare(trx, batch.relations);
      const target = tables.get(key);
      if (!target) throw new ReceiverError('PAYLOAD_INVALID', `copy of ${chunk.schema}.${chunk.table} carries no relation metadata for it`);
      // ONLY: a backup table's inheritance children are not part of this copy.
      if (placement.kind === 'start') {
        await sql`TRUNCATE ONLY ${sql.id(target.schema, target.table)}`.execute(trx);
        await supersedeStaged(trx, this.stateSchema, batch.source_id, chunk.schema, chunk.table, imageLsn);
      }
      if (copy !== undefined) {
        await applyCopySection(trx, client, target, batch, copy);
      } else {
        const runs = new RunExecutor(trx, client);
        for (const run of groupIntoRuns(batch.events, () => target)) await runs.execute(run);
      }

      const rows = copy?.rows ?? batch.events.length;
      const rowsBefore = placement.kind === 'start' ? 0n : state!.rowsCopied;
      await saveCopyState(trx, this.stateSchema, batch.source_id, batch.slot, {
        schema: chunk.schema,
        table: chunk.table,
        imageLsn,
        nextChunk: chunk.index + 1,
        done: chunk.last,
        rowsCopied: rowsBefore + BigInt(rows),
      });
      return { status: 'applied', watermark, events: rows };
    });
  }
}

/** Drops changes a table copy already holds; refuses changes a running copy would overwrite. */
function notInCopies(events: readonly ChangeEvent[], copies: ReadonlyMap<string, CopyState>): ChangeEvent[] {
  if (copies.size === 0) return [...events];
  return events.filter((event) => {
    const state = copies.get(relationKey(event.schema, event.table));
    const verdict = streamChangeVersusCopy(state, parseLsn(event.commit_lsn));
    if (verdict === 'wait') {
      throw new ReceiverError('TABLE_COPY_IN_PROGRESS', `a change of ${event.schema}.${event.table} committed at ${event.commit_lsn} arrived while that table is being copied (copy at ${formatLsn(state!.imageLsn)}); it is applied once the copy completes`);
    }
    return verdict === 'apply';
  });
}
