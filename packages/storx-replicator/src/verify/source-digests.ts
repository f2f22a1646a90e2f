import type pg from 'pg';
import { bucketDigestsQuery, collatedColumnsQuery, type DigestTable, digestFromRow, type KeyRange, lastKeyQuery, type Lsn, parseLsn, rangeDigestQuery, type RangeDigest } from '@storx-backup/protocol';
import type { SourceTable } from '../source/source-tables.js';

/** One key range as the source defined it, with its digest on the source. */
export interface SourceRange extends KeyRange {
  /** The first and last key the source had in the range (text of each key column); null when it had none. */
  firstKey: string[] | null;
  lastKey: string[] | null;
  digest: RangeDigest;
}

/** A table's columns in the source's order (generated columns left out: pgoutput does not send them), its primary key in key order (empty: none) and which key columns have a collation. */
export async function describeTable(client: pg.Client, table: SourceTable): Promise<DigestTable> {
  const { rows } = await client.query<{ columns: string[]; key: string[] | null }>(
    `SELECT (SELECT array_agg(attname::text ORDER BY attnum) FROM pg_attribute WHERE attrelid = $1 AND attnum > 0 AND NOT attisdropped AND attgenerated = '') AS columns,
            (SELECT array_agg(a.attname::text ORDER BY k.ord) FROM pg_index i CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, ord)
               JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum WHERE i.indrelid = $1 AND i.indisprimary) AS key`,
    [table.oid],
  );
  const key = rows[0]!.key ?? [];
  const collated = collatedColumnsQuery(table.schema, table.table);
  const { rows: collatedRows } = await client.query<{ columns: string[] }>(collated.text, collated.values);
  return { schema: table.schema, table: table.table, columns: rows[0]!.columns, key, collatedKey: key.filter((column) => collatedRows[0]!.columns.includes(column)) };
}

/**
 * Runs `work` in one REPEATABLE READ, READ ONLY snapshot and returns the WAL position `lsn` it
 * is as of: every transaction the snapshot sees has its commit record before `lsn`, so a backup
 * that has applied everything before `lsn` holds at least those changes. (A transaction whose
 * commit record is before `lsn` but not yet visible, under synchronous replication, makes the
 * backup look ahead: a difference that a re-check clears.)
 */
async function inSnapshot<T>(client: pg.Client, work: () => Promise<T>): Promise<{ lsn: Lsn; value: T }> {
  await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
  try {
    // The snapshot is taken by this first statement, before the function reads the position.
    const { rows } = await client.query<{ lsn: string }>('SELECT pg_current_wal_lsn()::text AS lsn');
    const value = await work();
    await client.query('COMMIT');
    return { lsn: parseLsn(rows[0]!.lsn), value };
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  }
}

/**
 * The source's pass: the table cut into ranges of `rangeRows` keys in key order, each with its
 * digest. Range i holds the keys from its first key up to the next range's first key; the first
 * range is unbounded below and the last above, so together they cover every key the backup
 * could hold. A table without a key is one range.
 */
export async function sourceRanges(client: pg.Client, table: DigestTable, rangeRows: number): Promise<{ lsn: Lsn; ranges: SourceRange[] }> {
  const { lsn, value } = await inSnapshot(client, () => cutRange(client, table, { from: null, to: null }, rangeRows));
  return { lsn, ranges: value };
}

/** A range hashed again whole, and cut into pieces, in one snapshot. */
export interface SplitRange {
  whole: SourceRange;
  pieces: SourceRange[];
}

/**
 * A re-check, in one new snapshot: each range's digest again, and the range cut into about
 * `parts` pieces with theirs (a range of one key stays whole). Pieces partition their range
 * exactly, so a range whose pieces all match matches as a whole; the smaller a piece, the less
 * likely a change in flight touches it between the two sides' hashing, and the more exactly a
 * real difference is located.
 */
export async function splitRanges(client: pg.Client, table: DigestTable, ranges: readonly SourceRange[], parts: number): Promise<{ lsn: Lsn; ranges: SplitRange[] }> {
  const { lsn, value } = await inSnapshot(client, async () => {
    const split: SplitRange[] = [];
    for (const range of ranges) {
      const whole = await rehash(client, table, range);
      const pieces = table.key.length === 0 || whole.digest.count <= 1 || parts <= 1 ? [whole] : await cutRange(client, table, range, Math.ceil(whole.digest.count / parts));
      split.push({ whole, pieces });
    }
    return split;
  });
  return { lsn, ranges: value };
}

async function rehash(client: pg.Client, table: DigestTable, range: SourceRange): Promise<SourceRange> {
  const query = rangeDigestQuery(table, range);
  const { rows } = await client.query<{ count: string; ordered: string | null; multiset: string | null }>(query.text, query.values);
  const digest = digestFromRow(rows[0]!);
  return { ...range, digest: { count: digest.count, hash: digest.ordered } };
}

/** `range` cut every `bucketRows` keys; its bounds stay those of the first and last piece. */
async function cutRange(client: pg.Client, table: DigestTable, range: KeyRange, bucketRows: number): Promise<SourceRange[]> {
  const whole: SourceRange = { from: range.from, to: range.to, firstKey: null, lastKey: null, digest: { count: 0, hash: null } };
  if (table.key.length === 0) return [await rehash(client, table, whole)];
  const query = bucketDigestsQuery(table, bucketRows, range);
  const { rows } = await client.query<{ count: number; hash: string; first_key: string[]; last_key: string[] | null }>(query.text, query.values);
  if (rows.length === 0) return [whole];
  let lastKey: string[] | undefined;
  if (rows.at(-1)!.last_key === null) {
    const last = lastKeyQuery(table, range);
    lastKey = (await client.query<{ key: string[] }>(last.text, last.values)).rows[0]?.key;
  }
  return rows.map((row, index) => ({
    from: index === 0 ? range.from : row.first_key,
    to: index === rows.length - 1 ? range.to : rows[index + 1]!.first_key,
    firstKey: row.first_key,
    lastKey: row.last_key ?? lastKey ?? row.first_key,
    digest: { count: row.count, hash: row.hash },
  }));
}
