import type pg from 'pg';

/**
 * What "the backup equals the source" means for one table, everywhere in this repository
 * (e2e, the replicator's tests, the demo, the bench): the same row count and the same ordered
 * and multiset hashes of every row's text.
 */
export interface TableDigest {
  count: number;
  /** Hash of every row's text in key order; null for an empty table. */
  ordered: string | null;
  /** Hash of every row's text sorted by that hash: equal multisets, so duplicates cannot hide. */
  multiset: string | null;
}

/** A table that does not exist yet (the receiver creates one with its first row). */
export const EMPTY_DIGEST: TableDigest = Object.freeze({ count: 0, ordered: null, multiset: null });

/**
 * The digest of `table` (an already quoted, qualified name such as `"satellite/0".objects`),
 * `keyOrder` its key columns. Each row is hashed first, so the aggregate holds 32 bytes per
 * row however wide the rows are (a million 300-byte rows stay far from the 1 GB text limit).
 */
export async function tableDigest(client: pg.ClientBase, table: string, keyOrder: string): Promise<TableDigest> {
  const { rows } = await client.query<{ count: string; ordered: string | null; multiset: string | null }>(
    `SELECT count(*)::text AS count,
            md5(string_agg(md5(t::text), '' ORDER BY ${keyOrder})) AS ordered,
            md5(string_agg(md5(t::text), '' ORDER BY md5(t::text))) AS multiset
     FROM ${table} t`,
  );
  const row = rows[0]!;
  return { count: Number(row.count), ordered: row.ordered, multiset: row.multiset };
}

/** `tableDigest`, or `EMPTY_DIGEST` when the table does not exist. */
export async function tableDigestOrEmpty(client: pg.ClientBase, table: string, keyOrder: string): Promise<TableDigest> {
  try {
    return await tableDigest(client, table, keyOrder);
  } catch (error) {
    if ((error as { code?: string }).code === '42P01') return EMPTY_DIGEST;
    throw error;
  }
}

export function sameDigest(a: TableDigest, b: TableDigest): boolean {
  return a.count === b.count && a.ordered === b.ordered && a.multiset === b.multiset;
}
