import pg from 'pg';
import { tableDigest, withClient } from '@storx-backup/test-postgres';
import { SCHEMA, TABLE_NAMES, TABLES, type TableName } from './storj-schema.js';

export interface TableDigest {
  rows: number;
  /** Hash over every row's text, in key order. */
  ordered: string;
  /** Hash over every row's text, sorted by that text: equal multisets, so duplicates cannot hide. */
  multiset: string;
}

export interface TableComparison {
  table: TableName;
  source: TableDigest;
  /** `undefined` when the backup has no such table. */
  backup: TableDigest | undefined;
  equal: boolean;
}

/**
 * The end-to-end suite's invariant (packages/e2e/src/invariant.ts): per table, the same row
 * count and the same ordered and multiset hashes on both sides. Each row is hashed first, so
 * the aggregate stays 32 bytes per row however wide the rows are.
 */
export async function compareTables(sourceAdminUrl: string, backupAdminUrl: string): Promise<TableComparison[]> {
  const [source, backup] = await Promise.all([digests(sourceAdminUrl), digests(backupAdminUrl)]);
  return TABLE_NAMES.map((table) => {
    const ours = source.get(table)!;
    const theirs = backup.get(table);
    const equal = theirs !== undefined && theirs.rows === ours.rows && theirs.ordered === ours.ordered && theirs.multiset === ours.multiset;
    return { table, source: ours, backup: theirs, equal };
  });
}

async function digests(url: string): Promise<Map<TableName, TableDigest | undefined>> {
  return withClient(url, async (client) => {
    const result = new Map<TableName, TableDigest | undefined>();
    for (const table of TABLE_NAMES) {
      const name = `${pg.escapeIdentifier(SCHEMA)}.${pg.escapeIdentifier(table)}`;
      const { rows } = await client.query<{ exists: boolean }>('SELECT to_regclass($1) IS NOT NULL AS exists', [name]);
      if (rows[0]?.exists !== true) {
        result.set(table, undefined);
        continue;
      }
      // The one definition of a table digest, shared with the tests (packages/test-postgres).
      const digest = await tableDigest(client, name, TABLES[table]);
      result.set(table, { rows: digest.count, ordered: digest.ordered ?? '(empty)', multiset: digest.multiset ?? '(empty)' });
    }
    return result;
  });
}
