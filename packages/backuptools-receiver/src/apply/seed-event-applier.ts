import type { ChangeEvent, Row, SeedChangeEvent } from '@storx-backup/protocol';
import type { BackupDb } from '../db.js';
import { ReceiverError } from '../errors.js';
import type { TableSync } from '../schema/table-sync.js';
import { readTargetTable } from '../schema/target-table.js';
import { groupIntoRuns } from './runs.js';
import { executeRun } from './statements.js';

/**
 * Applies one seed-format event (one per request). Such events carry no relation metadata, so
 * the backup table must already exist and its own column types are used for the casts; and
 * senders written from the seed send no LSNs, so there is no watermark: delivery is at least
 * once, made harmless by applying by key in order (a redelivered suffix of the history
 * converges to the same rows). Prefer wire format v2, which is exactly once.
 */
export class SeedEventApplier {
  constructor(
    private readonly db: BackupDb,
    private readonly tableSync: TableSync,
  ) {}

  async apply(seed: ChangeEvent | SeedChangeEvent): Promise<void> {
    const event = normalize(seed);
    const schema = this.tableSync.targetSchema(event.schema);
    await this.db.transaction().execute(async (trx) => {
      const table = await readTargetTable(trx, schema, event.table);
      if (table === undefined) {
        throw new ReceiverError('TABLE_INCOMPATIBLE', `backup table ${schema}.${event.table} does not exist; seed-format events carry no column types, so create it first`);
      }
      for (const row of [event.data, event.old_data]) {
        const unknown = Object.keys(row ?? {}).filter((column) => !table.columns.has(column));
        if (unknown.length > 0) throw new ReceiverError('TABLE_INCOMPATIBLE', `backup table ${schema}.${event.table} has no column(s) ${unknown.join(', ')}`);
      }
      for (const run of groupIntoRuns([event], () => table)) await executeRun(trx, run);
    });
  }
}

/** Fills what the seed's minimal `ObjectChangeEvent` leaves out; refuses what cannot be applied. */
function normalize(seed: ChangeEvent | SeedChangeEvent): ChangeEvent {
  const common = { schema: seed.schema ?? 'public', table: seed.table, timestamp: seed.timestamp ?? '', lsn: seed.lsn ?? '0/0', commit_lsn: seed.commit_lsn ?? '0/0', xid: seed.xid ?? 0 };
  const need = (row: Row | null | undefined, field: string): Row => {
    if (!row) throw new ReceiverError('PAYLOAD_INVALID', `${seed.operation} event for ${seed.table} has no ${field}`);
    return row;
  };
  switch (seed.operation) {
    case 'INSERT':
      return { ...common, operation: 'INSERT', data: need(seed.data, 'data'), old_data: null, unchanged_toast: [] };
    case 'UPDATE':
      return { ...common, operation: 'UPDATE', data: need(seed.data, 'data'), old_data: seed.old_data ?? null, unchanged_toast: seed.unchanged_toast ?? [] };
    case 'DELETE':
      return { ...common, operation: 'DELETE', data: null, old_data: need(seed.old_data ?? seed.data, 'old_data'), unchanged_toast: [] };
    case 'TRUNCATE':
      return { ...common, operation: 'TRUNCATE', data: null, old_data: null, unchanged_toast: [] };
  }
}
