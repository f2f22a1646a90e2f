import { connect, waitFor } from '@storx-backup/test-postgres';
import type pg from 'pg';
import { TABLE_KEYS } from './source-schema.js';

export interface TableDigest {
  count: number;
  /** Hash of every row's text in key order. */
  ordered: string | null;
  /** Hash of every row's text sorted by that text: equal multisets, so duplicates cannot hide. */
  multiset: string | null;
}

export async function tableDigest(client: pg.Client, table: keyof typeof TABLE_KEYS): Promise<TableDigest> {
  const { rows } = await client.query<{ count: string; ordered: string | null; multiset: string | null }>(
    `SELECT count(*)::text AS count,
            md5(string_agg(t::text, E'\\n' ORDER BY ${TABLE_KEYS[table]})) AS ordered,
            md5(string_agg(t::text, E'\\n' ORDER BY t::text)) AS multiset
     FROM "satellite/0".${table} t`,
  );
  return { count: Number(rows[0]!.count), ordered: rows[0]!.ordered, multiset: rows[0]!.multiset };
}

/** The receiver creates a backup table with its first row: none yet is an empty table. */
const EMPTY: TableDigest = { count: 0, ordered: null, multiset: null };

function isMissingTable(error: unknown): boolean {
  return (error as { code?: string }).code === '42P01';
}

/**
 * The invariant checked after every scenario: for each table, the same row count and the same
 * ordered and multiset hashes of every row on both sides. Waits (polling, with a deadline) for
 * the pipeline to catch up, then compares.
 */
export async function expectBackupEqualsSource(sourceUrl: string, backupUrl: string, timeoutMs = 120_000): Promise<Record<string, TableDigest>> {
  const result: Record<string, TableDigest> = {};
  for (const table of Object.keys(TABLE_KEYS) as (keyof typeof TABLE_KEYS)[]) {
    let last = '';
    result[table] = await waitFor(
      async () => {
        const [source, backup] = await Promise.all([connect(sourceUrl), connect(backupUrl)]);
        try {
          const expected = await tableDigest(source, table);
          const actual = await tableDigest(backup, table).catch((error: unknown) => (isMissingTable(error) ? EMPTY : undefined));
          last = `source ${JSON.stringify(expected)}, backup ${JSON.stringify(actual)}`;
          return actual && actual.count === expected.count && actual.ordered === expected.ordered && actual.multiset === expected.multiset ? actual : undefined;
        } finally {
          await Promise.all([source.end(), backup.end()]);
        }
      },
      { description: () => `backup "satellite/0".${table} to equal the source (${last})`, timeoutMs, intervalMs: 250 },
    );
  }
  return result;
}
