import type pg from 'pg';
import { formatLsn, judgeLineage, type Lsn, LSN_ZERO, maxLsn } from '@storx-backup/protocol';
import type { Logger } from '@storx-backup/service-kit';
import type { ReplicatorConfig } from './config.js';
import type { BatchDelivery } from './deliver/batch-delivery.js';
import { sleep } from './deliver/sleep.js';
import { ReplicatorError } from './errors.js';
import { ensurePublication } from './source/publication.js';
import { requireReplicationCapacity } from './source/replication-capacity.js';
import { requireLogicalWal, requireReplicationPrivilege } from './source/server-checks.js';
import { checkUsableSlot, createSlot, readSlot } from './source/slot.js';
import { readSourceOrigin } from './source/source-identity.js';
import { qualified, requireTables, type SourceTable } from './source/source-tables.js';
import { parseReceiverState, type ReceiverState, tablesNeverCopied, tablesToCopy } from './snapshot/copy-plan.js';
import { createSlotExportingSnapshot, type ExportedSnapshot } from './snapshot/exported-snapshot.js';

export interface Prepared {
  tables: SourceTable[];
  /** Where streaming starts: the slot's confirmed position. */
  confirmed: Lsn;
  /** Existing rows to copy before streaming (initial snapshot, or a copy to finish). */
  copy: { snapshot: ExportedSnapshot; tables: SourceTable[] } | undefined;
}

/**
 * Everything `run` checks before streaming, in the seed's order: wal_level, privileges, free
 * replication slots and WAL senders, tables,
 * publication, then the slot, which is created only when it is missing AND the receiver has
 * never applied anything from it. A slot missing while the receiver has a watermark was lost
 * (failover to a replica without it): recreating it would silently skip every change in between.
 * A new slot exports its snapshot so that existing rows are copied exactly as of the point its
 * stream starts from; a copy the receiver reports incomplete is redone from a fresh snapshot.
 */
export async function prepareSource(client: pg.Client, config: ReplicatorConfig, delivery: BatchDelivery, logger: Logger, signal: AbortSignal): Promise<Prepared> {
  await requireLogicalWal(client);
  await requireReplicationPrivilege(client);
  await requireReplicationCapacity(client, config.slotName);
  const tables = await requireTables(client, config.tables);
  await ensurePublication(client, config.publicationName, tables, logger);

  const { rows } = await client.query<{ database: string }>('SELECT current_database() AS database');
  const database = rows[0]!.database;
  let slot = await readSlot(client, config.slotName);
  // Before the receiver is asked anything (and after the checks above, whose fixes are clearer
  // than a failed replication connection): batches say which history they come from.
  if (config.format !== 'seed-v1') delivery.origin = await readSourceOrigin(config.databaseUrl);
  // Only a v2 receiver can tell what it has applied and copied; a receiver written from the seed cannot.
  const state = config.format !== 'seed-v1' ? await receiverState(delivery, logger, signal) : undefined;
  if (state !== undefined) refuseForkedSource(state, delivery, config.sourceId);
  let copy: Prepared['copy'];
  if (slot === undefined) {
    if (config.format === 'seed-v1') logger.warn({ slot: config.slotName }, 'the slot is missing and format seed-v1 cannot ask the receiver whether it already holds data: creating the slot without copying existing rows; if this source was replicated before, the backup needs a resnapshot');
    if (state?.watermark !== undefined) {
      throw new ReplicatorError('SLOT_MISSING_AFTER_USE', `replication slot ${config.slotName} does not exist, but the receiver has applied changes from it up to ${formatLsn(state.watermark)}`);
    }
    if (state !== undefined && config.initialSnapshot) {
      const snapshot = await createSlotExportingSnapshot(config.databaseUrl, config.slotName);
      logger.info({ slot: config.slotName, consistentPoint: formatLsn(snapshot.consistentPoint) }, 'replication slot created: existing rows are copied as of its consistent point, then changes committed from there on are streamed');
      copy = { snapshot, tables };
    } else {
      const at = await createSlot(client, config.slotName);
      logger.info({ slot: config.slotName, consistentPoint: formatLsn(at) }, 'replication slot created (initial-snapshot off): changes committed from here on are replicated; existing rows are not copied');
    }
    slot = await readSlot(client, config.slotName);
  } else if (state !== undefined) {
    const pending = tablesToCopy(tables, state, config.initialSnapshot);
    if (pending.length > 0) {
      logger.info({ tables: pending.map(qualified) }, 'copies of existing rows are incomplete on the receiver: copying these tables again from a fresh snapshot before streaming');
      copy = { snapshot: await createSlotExportingSnapshot(config.databaseUrl, undefined), tables: pending };
    }
    const neverCopied = tablesNeverCopied(tables, state).filter((table) => !pending.includes(table));
    if (neverCopied.length > 0) logger.warn({ tables: neverCopied.map(qualified) }, `existing rows of these tables were never copied to the backup (only changes since they were added are): run "storx-replicator snapshot --tables ${neverCopied.map((table) => table.name).join(',')}" with the service stopped`);
  }
  if (slot === undefined) throw new Error(`replication slot ${config.slotName} vanished right after it was created`);
  checkUsableSlot(slot, config.slotName, database);
  if (slot.active && copy?.snapshot.slotName !== config.slotName) logger.warn({ slot: config.slotName, pid: slot.activePid }, 'slot is in use by another connection; waiting for it to be released');
  return { tables, confirmed: slot.confirmedFlushLsn ?? LSN_ZERO, copy };
}

/**
 * Fails fast, before anything is sent, when this server's history is not the one the receiver
 * applied from (the receiver would refuse every batch with 409 and the stream would block).
 */
function refuseForkedSource(state: ReceiverState, delivery: BatchDelivery, sourceId: string): void {
  let applied = state.watermark;
  for (const copy of state.copies) applied = applied === undefined ? copy.imageLsn : maxLsn(applied, copy.imageLsn);
  const verdict = judgeLineage(state.origin, applied, delivery.origin);
  if (verdict.kind === 'refused') throw new ReplicatorError(verdict.code, `source ${sourceId}: ${verdict.reason}`);
}

/**
 * The receiver's watermark and table copies for this source, from a ping; retries until the
 * receiver answers. The delivery logs each failure once, with its fix, as its state changes.
 */
export async function receiverState(delivery: BatchDelivery, logger: Logger, signal: AbortSignal): Promise<ReceiverState> {
  for (let attempt = 1; ; attempt += 1) {
    try {
      const { response, verdict } = await delivery.ping(signal);
      if (verdict.kind === 'delivered') return parseReceiverState(response.body);
    } catch (error) {
      if (signal.aborted) throw error;
    }
    if (attempt === 1) logger.warn('waiting for the receiver: it must say what it holds (watermark, table copies) before streaming starts');
    await sleep(delay(attempt, delivery), signal);
  }
}

/** A refused ping is retried like a refused batch (a fix is picked up within seconds); no answer backs off to 30 s. */
function delay(attempt: number, delivery: BatchDelivery): number {
  return delivery.blocked ? Math.min(delivery.blockedRetryIntervalMs, 30_000) : Math.min(30_000, 1000 * attempt);
}
