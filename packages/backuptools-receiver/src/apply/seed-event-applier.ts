import { sql } from 'kysely';
import type { ChangeEvent, Row, SeedChangeEvent } from '@storx-backup/protocol';
import type { BackupDb } from '../db.js';
import { ReceiverError } from '../errors.js';
import type { Executor } from '../schema/executor.js';
import type { TableSync } from '../schema/table-sync.js';
import { readTargetTable } from '../schema/target-table.js';
import { groupIntoRuns } from './runs.js';
import { executeRun } from './statements.js';

/**
 * Applies one seed-format event (one per request). Such events carry no relation metadata, so
 * the backup table must already exist and its own column types are used for the casts; and
 * senders written from the seed send no LSNs, so there is no watermark: a signed request is
 * applied once per webhook id, an unsigned one (accept-seed-v1) each time it arrives, by key in
 * order (a redelivered suffix of the history converges to the same rows). Prefer wire format v2,
 * which is exactly once.
 */
export class SeedEventApplier {
  constructor(
    private readonly db: BackupDb,
    private readonly tableSync: TableSync,
    private readonly stateSchema: string,
    /** Replays older than this were refused by the timestamp check already. */
    private readonly replayWindowSeconds: number,
    /** The source schema of an event that names none (the seed's minimal event): `default-schema`. */
    private readonly defaultSchema: string,
  ) {}

  /** The source schema the event is checked against the allowlist with and applied to. */
  sourceSchemaOf(seed: ChangeEvent | SeedChangeEvent): string {
    return seed.schema ?? this.defaultSchema;
  }

  /**
   * Applies the event; a signed request whose `webhookId` was applied before is a duplicate
   * (a replay, or our sender retrying after a lost answer) and changes nothing.
   */
  async apply(seed: ChangeEvent | SeedChangeEvent, webhookId: string | undefined): Promise<'applied' | 'duplicate'> {
    const event = normalize(seed, this.sourceSchemaOf(seed));
    const schema = this.tableSync.targetSchema(event.schema);
    return this.db.transaction().execute(async (trx) => {
      if (webhookId !== undefined && !(await this.firstSighting(trx, webhookId))) return 'duplicate';
      const table = await readTargetTable(trx, schema, event.table);
      if (table === undefined) {
        throw new ReceiverError('TABLE_INCOMPATIBLE', `backup table ${schema}.${event.table} does not exist; seed-format events carry no column types, so create it first`);
      }
      for (const row of [event.data, event.old_data]) {
        const unknown = Object.keys(row ?? {}).filter((column) => !table.columns.has(column));
        if (unknown.length > 0) throw new ReceiverError('TABLE_INCOMPATIBLE', `backup table ${schema}.${event.table} has no column(s) ${unknown.join(', ')}`);
      }
      for (const run of groupIntoRuns([event], () => table)) await executeRun(trx, run);
      return 'applied';
    });
  }

  private async firstSighting(trx: Executor, webhookId: string): Promise<boolean> {
    const seen = sql.id(this.stateSchema, 'seen_webhooks');
    await sql`DELETE FROM ${seen} WHERE seen_at < clock_timestamp() - make_interval(secs => ${this.replayWindowSeconds * 2})`.execute(trx);
    const { rows } = await sql<{ webhook_id: string }>`INSERT INTO ${seen} (webhook_id) VALUES (${webhookId}) ON CONFLICT DO NOTHING RETURNING webhook_id`.execute(trx);
    return rows.length === 1;
  }
}

/** Fills what the seed's minimal `ObjectChangeEvent` leaves out; refuses what cannot be applied. */
function normalize(seed: ChangeEvent | SeedChangeEvent, schema: string): ChangeEvent {
  const common = { schema, table: seed.table, timestamp: seed.timestamp ?? '', lsn: seed.lsn ?? '0/0', commit_lsn: seed.commit_lsn ?? '0/0', xid: seed.xid ?? 0, seq: seed.seq ?? 0 };
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
