import { CompiledQuery, sql } from 'kysely';
import { collatedColumnsQuery, digestFromRow, formatLsn, rangeDigestQuery, type VerifyRequest, type VerifyResult } from '@storx-backup/protocol';
import type { BackupDb } from '../db.js';
import { readWatermark } from '../apply/watermark-store.js';
import { readTargetTable } from '../schema/target-table.js';

/** Longest a verify request may keep the backup database busy. */
export const VERIFY_STATEMENT_TIMEOUT_MS = 60_000;

export interface RangeDigestOptions {
  stateSchema: string;
  /** Source schema → backup schema (schema-mapping), as the applier uses it. */
  targetSchema: (sourceSchema: string) => string;
}

/**
 * The receiver's half of verify: the digest of each requested key range of one backup table,
 * with the watermark of (source, slot), all read in one REPEATABLE READ, READ ONLY snapshot:
 * the sender compares them only when that watermark (or its slot) shows the backup has every
 * change the source had when it hashed. At most `max_rows_per_range` rows are read per range,
 * and every statement is bounded by VERIFY_STATEMENT_TIMEOUT_MS. Columns are checked against the
 * backup's catalog before any of them is named in SQL.
 *
 * Returns the rows read, for the metrics.
 */
export async function computeRangeDigests(db: BackupDb, request: VerifyRequest, options: RangeDigestOptions): Promise<{ result: VerifyResult; rowsRead: number }> {
  return db
    .transaction()
    .setIsolationLevel('repeatable read')
    .setAccessMode('read only')
    .execute(async (trx) => {
      await sql`SELECT set_config('statement_timeout', ${String(VERIFY_STATEMENT_TIMEOUT_MS)}, true)`.execute(trx);
      const watermark = await readWatermark(trx, options.stateSchema, request.source_id, request.slot);
      const watermark_lsn = watermark?.commitLsn === undefined ? null : formatLsn(watermark.commitLsn);
      const schema = options.targetSchema(request.schema);
      const target = await readTargetTable(trx, schema, request.table);
      if (target === undefined) return { result: { type: 'verify-result', watermark_lsn, table: 'missing', missing_columns: [], ranges: [] }, rowsRead: 0 };
      const missing = [...request.columns, ...request.key].filter((column) => !target.columns.has(column));
      if (missing.length > 0) return { result: { type: 'verify-result', watermark_lsn, table: 'columns_missing', missing_columns: [...new Set(missing)], ranges: [] }, rowsRead: 0 };

      // Which key columns have a collation, from the backup's own catalog: the source reads its own and both compare those under COLLATE "C".
      const collated = collatedColumnsQuery(schema, request.table);
      const { rows: collatedRows } = await trx.executeQuery<{ columns: string[] }>(CompiledQuery.raw(collated.text, collated.values));
      const table = { schema, table: request.table, columns: request.columns, key: request.key, collatedKey: request.key.filter((column) => collatedRows[0]!.columns.includes(column)) };
      const ranges: VerifyResult['ranges'] = [];
      let rowsRead = 0;
      for (const range of request.ranges) {
        const query = rangeDigestQuery(table, range, request.max_rows_per_range + 1);
        const { rows } = await trx.executeQuery<{ count: string; ordered: string | null; multiset: string | null }>(CompiledQuery.raw(query.text, query.values));
        const digest = digestFromRow(rows[0]!);
        rowsRead += digest.count;
        ranges.push({ count: digest.count, hash: digest.ordered });
      }
      return { result: { type: 'verify-result', watermark_lsn, table: 'ok', missing_columns: [], ranges }, rowsRead };
    });
}
