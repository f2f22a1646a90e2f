import type pg from 'pg';
import { formatLsn, type Lsn, LSN_ZERO, parseLsn } from '@storx-backup/protocol';
import type { Logger } from '@storx-backup/service-kit';
import type { ReplicatorConfig } from './config.js';
import type { BatchDelivery } from './deliver/batch-delivery.js';
import { sleep } from './deliver/sleep.js';
import { ReplicatorError } from './errors.js';
import { ensurePublication } from './source/publication.js';
import { requireLogicalWal, requireReplicationPrivilege } from './source/server-checks.js';
import { checkUsableSlot, createSlot, readSlot } from './source/slot.js';
import { requireTables, type SourceTable } from './source/source-tables.js';

export interface Prepared {
  tables: SourceTable[];
  /** Where streaming starts: the slot's confirmed position. */
  confirmed: Lsn;
}

/**
 * Everything `run` checks before streaming, in the seed's order: wal_level, privileges, tables,
 * publication, then the slot, which is created only when it is missing AND the receiver has
 * never applied anything from it. A slot missing while the receiver has a watermark was lost
 * (failover to a replica without it): recreating it would silently skip every change in between.
 */
export async function prepareSource(client: pg.Client, config: ReplicatorConfig, delivery: BatchDelivery, logger: Logger, signal: AbortSignal): Promise<Prepared> {
  await requireLogicalWal(client);
  await requireReplicationPrivilege(client);
  const tables = await requireTables(client, config.tables);
  await ensurePublication(client, config.publicationName, tables, logger);

  const { rows } = await client.query<{ database: string }>('SELECT current_database() AS database');
  const database = rows[0]!.database;
  let slot = await readSlot(client, config.slotName);
  if (slot === undefined) {
    // Only a v2 receiver can tell what it has applied; a receiver written from the seed cannot.
    const watermark = config.format === 'v2' ? await receiverWatermark(delivery, logger, signal) : undefined;
    if (config.format !== 'v2') logger.warn({ slot: config.slotName }, 'the slot is missing and format seed-v1 cannot ask the receiver whether it already holds data: creating the slot; if this source was replicated before, the backup needs a resnapshot');
    if (watermark !== undefined) {
      throw new ReplicatorError('SLOT_MISSING_AFTER_USE', `replication slot ${config.slotName} does not exist, but the receiver has applied changes from it up to ${formatLsn(watermark)}`);
    }
    const at = await createSlot(client, config.slotName);
    logger.info({ slot: config.slotName, consistentPoint: formatLsn(at) }, 'replication slot created: changes committed from here on are replicated');
    slot = await readSlot(client, config.slotName);
  }
  if (slot === undefined) throw new Error(`replication slot ${config.slotName} vanished right after it was created`);
  checkUsableSlot(slot, config.slotName, database);
  if (slot.active) logger.warn({ slot: config.slotName, pid: slot.activePid }, 'slot is in use by another connection; waiting for it to be released');
  return { tables, confirmed: slot.confirmedFlushLsn ?? LSN_ZERO };
}

/** The receiver's watermark for this source, from a ping; retries until the receiver answers. */
async function receiverWatermark(delivery: BatchDelivery, logger: Logger, signal: AbortSignal): Promise<Lsn | undefined> {
  for (let attempt = 1; ; attempt += 1) {
    try {
      const { response, verdict } = await delivery.ping(signal);
      if (verdict.kind === 'delivered') {
        const body = JSON.parse(response.body) as { watermark?: { commit_lsn?: string | null } | null };
        const lsn = body.watermark?.commit_lsn;
        return typeof lsn === 'string' ? parseLsn(lsn) : undefined;
      }
      logger.warn({ attempt, reason: verdict.reason }, 'the slot is missing and the receiver did not answer the ping: it must say whether it holds data before a slot is created');
    } catch (error) {
      if (signal.aborted) throw error;
      logger.warn({ attempt, err: error }, 'the slot is missing and the receiver is unreachable: waiting for it before creating a slot');
    }
    await sleep(Math.min(30_000, 1000 * attempt), signal);
  }
}
