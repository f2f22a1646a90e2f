import { type Batch, type ChangeEvent, isPing, relationKey } from '@storx-backup/protocol';
import type { BackupDb } from '../db.js';
import { ReceiverError } from '../errors.js';
import type { TableSync } from '../schema/table-sync.js';
import { classifyDatabaseError } from './database-errors.js';
import { groupIntoRuns } from './runs.js';
import { executeRun } from './statements.js';
import { advancedWatermark, batchPosition, placeBatch, type Watermark } from './watermark.js';
import { advanceWatermark, lockWatermark, readWatermark } from './watermark-store.js';

export type ApplyOutcome =
  | { status: 'applied'; watermark: Watermark; events: number }
  | { status: 'duplicate'; watermark: Watermark }
  | { status: 'ping'; watermark: Watermark | undefined };

/**
 * Applies batches: the rows and the watermark in one transaction, so a batch is either wholly
 * applied and remembered, or not at all. A batch at or below the watermark is a duplicate and
 * changes nothing; one that would leave a hole is refused (CHUNK_OUT_OF_ORDER).
 */
export class Applier {
  constructor(
    private readonly db: BackupDb,
    private readonly tableSync: TableSync,
    private readonly stateSchema: string,
  ) {}

  async apply(batch: Batch): Promise<ApplyOutcome> {
    // A ping reads (never writes) the watermark: the sender compares it with its slot at start.
    if (isPing(batch)) return { status: 'ping', watermark: await this.withDatabaseErrors(() => readWatermark(this.db, this.stateSchema, batch.source_id, batch.slot)) };
    try {
      return await this.applyOnce(batch);
    } catch (error) {
      // DDL in the failed transaction was rolled back: forget what the sync cached from it.
      this.tableSync.invalidate();
      const classified = classifyDatabaseError(error);
      if (classified.kind === 'schema-changed') return this.applyOnce(batch).catch((retryError: unknown) => Promise.reject(toReceiverError(retryError)));
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

  private async applyOnce(batch: Batch): Promise<ApplyOutcome> {
    const position = batchPosition(batch);
    return this.db.transaction().execute(async (trx) => {
      const watermark = await lockWatermark(trx, this.stateSchema, batch.source_id, batch.slot);
      const placement = placeBatch(watermark, position, batch.events);
      if (placement.kind === 'duplicate') return { status: 'duplicate', watermark };
      if (placement.kind === 'gap') throw new ReceiverError('CHUNK_OUT_OF_ORDER', `source ${batch.source_id}, slot ${batch.slot}: ${placement.reason}`);

      const { events } = placement;
      const tables = await this.tableSync.prepare(trx, batch.relations);
      const tableOf = (event: ChangeEvent) => tables.get(relationKey(event.schema, event.table))!;
      for (const run of groupIntoRuns(events, tableOf)) await executeRun(trx, run);

      const advanced = advancedWatermark(watermark, position, events);
      await advanceWatermark(trx, this.stateSchema, batch.source_id, batch.slot, advanced, events.length, events.at(-1)?.timestamp);
      return { status: 'applied', watermark: advanced, events: events.length };
    });
  }
}

function toReceiverError(error: unknown): ReceiverError {
  if (error instanceof ReceiverError) return error;
  const classified = classifyDatabaseError(error);
  switch (classified.kind) {
    case 'unavailable':
      return new ReceiverError('DATABASE_UNAVAILABLE', `backup database unavailable: ${classified.message}`, { cause: error });
    case 'rejected':
      return new ReceiverError('APPLY_REJECTED', `backup database refused the batch: ${classified.message}`, { cause: error });
    case 'schema-changed':
      return new ReceiverError('TABLE_INCOMPATIBLE', `backup table changed while applying: ${classified.message}`, { cause: error });
    case 'unknown':
      return new ReceiverError('INTERNAL', classified.message, { cause: error });
  }
}
