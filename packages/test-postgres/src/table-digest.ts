import type pg from 'pg';
import { digestFromRow, digestSql, EMPTY_DIGEST, type TableDigest } from '@storx-backup/protocol';

export { EMPTY_DIGEST, sameDigest, type TableDigest } from '@storx-backup/protocol';

/**
 * The digest of `table` (an already quoted, qualified name such as `"satellite/0".objects`),
 * `keyOrder` its key columns (over alias `t`, or bare names): the product's definition of "equal"
 * (`digestSql` of @storx-backup/protocol, which `storx-replicator verify` uses), over every
 * column's text (`t::text`), with the multiset hash too.
 */
export async function tableDigest(client: pg.ClientBase, table: string, keyOrder: string): Promise<TableDigest> {
  const { rows } = await client.query<{ count: string; ordered: string | null; multiset: string | null }>(digestSql({ table, rowText: 't::text', keyOrder }));
  return digestFromRow(rows[0]!);
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
