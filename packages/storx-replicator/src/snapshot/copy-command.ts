import { formatLsn } from '@storx-backup/protocol';
import { createLogger, type CommandContext } from '@storx-backup/service-kit';
import type { ReplicatorConfig } from '../config.js';
import { deliveryFromConfig } from '../deliver/delivery-from-config.js';
import { findPrimary } from '../source/primary-locator.js';
import { readSourceOrigin } from '../source/source-identity.js';
import { ReplicatorError } from '../errors.js';
import { ReplicatorMetrics } from '../metrics.js';
import { loadReplicatorKeys } from '../replicator-keys.js';
import { readSlot } from '../source/slot.js';
import { withSourceClient } from '../source/source-connection.js';
import { SourceCatalog } from '../source/source-catalog.js';
import { qualified, requireTables } from '../source/source-tables.js';
import { receiverState } from '../startup-checks.js';
import { copyProgress } from './copy-progress.js';
import { createSlotExportingSnapshot } from './exported-snapshot.js';
import { copyTables } from './table-copier.js';

/**
 * `snapshot` and `resync`: copies the named tables as of a fresh exported snapshot, with the
 * service stopped. The receiver empties each backup table at the copy's first chunk and then
 * skips the stream's changes of that table that committed before the snapshot, so when `run`
 * resumes from the slot nothing is applied twice and nothing is missing.
 */
export async function copyCommand(config: ReplicatorConfig, names: readonly string[], context: CommandContext): Promise<number> {
  if (config.format === 'seed-v1') throw new ReplicatorError('COPY_NOT_POSSIBLE', 'copying tables needs a batch format (replication.format auto, v3 or v2): a receiver written from the seed document cannot take a table copy');
  const unknown = names.filter((name) => !config.tables.includes(name));
  if (unknown.length > 0) throw new ReplicatorError('COPY_NOT_POSSIBLE', `not in replication.tables: ${unknown.join(', ')} (configured: ${config.tables.join(', ')})`);

  const logger = createLogger({ name: 'storx-replicator', level: config.logLevel });
  const keys = await loadReplicatorKeys(config);
  const metrics = new ReplicatorMetrics();
  const stop = new AbortController();
  const onSignal = (): void => stop.abort(new Error('interrupted'));
  process.once('SIGINT', onSignal).once('SIGTERM', onSignal);
  try {
    const databaseUrl = await findPrimary(config.sourceUrls, logger);
    return await withSourceClient(databaseUrl, async (source) => {
      const slot = await readSlot(source, config.slotName);
      if (slot === undefined) throw new ReplicatorError('COPY_NOT_POSSIBLE', `replication slot ${config.slotName} does not exist: start "storx-replicator run" first (it creates the slot and copies every table)`);
      if (slot.active) throw new ReplicatorError('COPY_NOT_POSSIBLE', `replication slot ${config.slotName} is in use (pid ${slot.activePid ?? '?'}): stop the replicator service first; it resumes streaming after the copy when started again`);
      const tables = await requireTables(source, names);
      const catalog = new SourceCatalog(config.databaseUrl, logger);
      const { delivery, client } = deliveryFromConfig(config, keys, { catalog, metrics, logger });
      try {
        delivery.origin = await readSourceOrigin(databaseUrl);
        await receiverState(delivery, logger, stop.signal);
        const snapshot = await createSlotExportingSnapshot(databaseUrl, undefined);
        logger.info({ tables: tables.map(qualified), imageLsn: formatLsn(snapshot.consistentPoint) }, 'copying as of a fresh snapshot');
        const terminal = process.stderr.isTTY ? process.stderr : undefined;
        await copyTables({ databaseUrl, snapshot, tables, delivery, maxBatchEvents: config.maxBatchEvents, maxBatchBytes: config.maxBatchBytes, copyChunkBytes: config.copyChunkBytes, maxInFlight: config.maxInFlight, maxInFlightBytes: config.maxInFlightBytes, progress: copyProgress({ logger, metrics, terminal }), signal: stop.signal });
      } finally {
        client.close();
        await catalog.close();
      }
      context.stdout(`copied ${tables.map((table) => table.name).join(', ')}; start (or restart) "storx-replicator run" to stream the changes made since\n`);
      return 0;
    });
  } finally {
    process.off('SIGINT', onSignal).off('SIGTERM', onSignal);
  }
}
