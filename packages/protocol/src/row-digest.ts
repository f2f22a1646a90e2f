import { quoteIdentifier, quoteQualified } from './sql-identifier.js';

/**
 * What "the backup equals the source" means, everywhere: `storx-replicator verify` on each
 * side, and every test, the demo and the bench. A digest is the row count and an md5 over the
 * md5 of each row's text, in key order; each row is hashed first, so the aggregate holds 32
 * bytes per row however wide the rows are. Row text is PostgreSQL's own output under the pinned
 * session settings (TEXT_SESSION_OPTIONS), which both sides use: the same values print the same
 * way whatever their type, and no value passes through JavaScript.
 */
export interface TableDigest {
  count: number;
  /** Hash of every row's text in key order; null for no rows. */
  ordered: string | null;
  /** Hash of every row's text sorted by that hash: equal multisets, so duplicates cannot hide. */
  multiset: string | null;
}

/** A table that does not exist yet (the receiver creates one with its first row). */
export const EMPTY_DIGEST: TableDigest = Object.freeze({ count: 0, ordered: null, multiset: null });

export function sameDigest(a: TableDigest, b: TableDigest): boolean {
  return a.count === b.count && a.ordered === b.ordered && a.multiset === b.multiset;
}

/** The hash of one row: md5 of its text, as 32 hex digits. `rowText` is an SQL expression over alias `t`. */
export function rowHashSql(rowText: string): string {
  return `md5(${rowText})`;
}

/** The text of the named columns of alias `t`, as a composite (`(1,"a b",)`): `ROW(t."a", t."b")::text`. Columns already quoted. */
export function rowTextSql(quotedColumns: readonly string[]): string {
  return `ROW(${quotedColumns.map((column) => `t.${column}`).join(', ')})::text`;
}

export interface DigestSqlOptions {
  /** A quoted, qualified table (`"satellite/0"."objects"`); read as alias `t`. */
  table: string;
  /** SQL of each row's text over alias `t`: `t::text` (every column, the table's order) or rowTextSql(...). */
  rowText: string;
  /** ORDER BY of the ordered hash, over alias `t` (`t."stream_id", t."position"`). */
  keyOrder: string;
  /** A condition over alias `t` (key range bounds as parameters); default every row. */
  where?: string;
  /** Read at most this many rows, in key order (a bound on the work; a count above it is "more"). */
  limit?: number;
  /** Also compute the multiset hash (a sort of the row hashes). Default true. */
  multiset?: boolean;
}

/**
 * One SELECT answering `count` (text), `ordered` and `multiset` (md5 hex or null). Parameters
 * the caller's `where` uses are passed with it.
 */
export function digestSql(options: DigestSqlOptions): string {
  const where = options.where === undefined ? '' : ` WHERE ${options.where}`;
  const rows = options.limit === undefined ? `${options.table} t${where}` : `(SELECT * FROM ${options.table} t${where} ORDER BY ${options.keyOrder} LIMIT ${Math.floor(options.limit)}) t`;
  const hash = rowHashSql(options.rowText);
  const multiset = options.multiset === false ? 'NULL::text' : `md5(string_agg(${hash}, '' ORDER BY ${hash} COLLATE "C"))`;
  return `SELECT count(*)::text AS count, md5(string_agg(${hash}, '' ORDER BY ${options.keyOrder})) AS ordered, ${multiset} AS multiset FROM ${rows}`;
}

/** Reads the row of digestSql. */
export function digestFromRow(row: { count: string; ordered: string | null; multiset: string | null }): TableDigest {
  return { count: Number(row.count), ordered: row.ordered, multiset: row.multiset };
}

/** Keys k with from ≤ k < to, compared as rows in key order; null: unbounded on that side. Values are the key columns' text. */
export interface KeyRange {
  from: readonly string[] | null;
  to: readonly string[] | null;
}

/** A table as verify hashes it: its columns in the source's order, its primary key columns in key order (empty: no key). */
export interface DigestTable {
  schema: string;
  table: string;
  columns: readonly string[];
  key: readonly string[];
  /**
   * The key columns that have a collation (text, varchar, citext, domains and arrays of them),
   * as each side's own catalog says (collatedColumnsQuery). They are ordered and compared
   * under COLLATE "C", byte order, on both sides: each database's own collation ("en_US" on one
   * host, "C" on the other, or one name under two glibc/ICU versions) would cut and order the
   * ranges differently, a difference no resync could fix.
   */
  collatedKey: readonly string[];
}

/** A parameterised statement (`$1`...); values are text, typed by PostgreSQL from the key columns they are compared with. */
export interface DigestQuery {
  text: string;
  values: string[];
}

/**
 * The columns of `schema`.`table` that have a collation (`columns`, text[]), read from the
 * catalog of the side that runs it: DigestTable.collatedKey is the key columns among them.
 */
export function collatedColumnsQuery(schema: string, table: string): DigestQuery {
  return {
    text: `SELECT coalesce(array_agg(attname::text ORDER BY attnum), '{}') AS columns FROM pg_attribute
           WHERE attrelid = to_regclass(format('%I.%I', $1::text, $2::text)) AND attnum > 0 AND NOT attisdropped AND attcollation <> 0`,
    values: [schema, table],
  };
}

/** Key column `column` of alias `t` as ordered and compared: under COLLATE "C" when it has a collation (DigestTable.collatedKey). */
function keyColumnSql(table: DigestTable, column: string): string {
  const quoted = `t.${quoteIdentifier(column)}`;
  return table.collatedKey.includes(column) ? `${quoted} COLLATE "C"` : quoted;
}

function keyOrderSql(table: DigestTable): string {
  // No key: rows are ordered by their hash, so the "ordered" digest is the multiset digest.
  return table.key.length === 0 ? `${rowHashSql(rowTextSql(table.columns.map(quoteIdentifier)))} COLLATE "C"` : table.key.map((column) => keyColumnSql(table, column)).join(', ');
}

/**
 * The digest of one key range (count, ordered hash) of `table`, at most `limit` rows read: the
 * same SQL on the source (re-checking a range) and on the backup (the receiver's answer). The
 * bounds are parameters; the row comparison uses the key's index on either side.
 */
export function rangeDigestQuery(table: DigestTable, range: KeyRange, limit?: number): DigestQuery {
  const values: string[] = [];
  const where = rangeCondition(table, range, values);
  const text = digestSql({
    table: quoteQualified(table.schema, table.table),
    rowText: rowTextSql(table.columns.map(quoteIdentifier)),
    keyOrder: keyOrderSql(table),
    ...(where === undefined ? {} : { where }),
    ...(limit === undefined ? {} : { limit }),
    multiset: false,
  });
  return { text, values };
}

/** `from ≤ key < to` over alias `t` as a row comparison (the key's index serves it), its bounds appended to `values` as parameters; undefined when unbounded. */
function rangeCondition(table: DigestTable, range: KeyRange, values: string[]): string | undefined {
  const keyRow = `(${table.key.map((column) => keyColumnSql(table, column)).join(', ')})`;
  const bound = (operator: string, bounds: readonly string[]): string => {
    const placeholders = bounds.map((value) => {
      values.push(value);
      return `$${values.length}`;
    });
    return `${keyRow} ${operator} (${placeholders.join(', ')})`;
  };
  const conditions = [range.from === null ? undefined : bound('>=', range.from), range.to === null ? undefined : bound('<', range.to)].filter((condition) => condition !== undefined);
  return conditions.length === 0 ? undefined : conditions.join(' AND ');
}

/**
 * The source's pass over a table with a key (or over one key range of it): every `bucketRows`
 * rows in key order make one bucket, with the same ordered hash rangeDigestQuery gives for the
 * range from its first key to the next bucket's first key. Answers `bucket`, `count`, `hash`, `first_key`, `last_key` (text[]; null for a last bucket that is not full: lastKeyQuery).
 */
export function bucketDigestsQuery(table: DigestTable, bucketRows: number, range: KeyRange = { from: null, to: null }): DigestQuery {
  const rows = Math.max(1, Math.floor(bucketRows));
  const values: string[] = [];
  const where = rangeCondition(table, range, values);
  const key = `ARRAY[${table.key.map((column) => `t.${quoteIdentifier(column)}::text`).join(', ')}]`;
  const text = `SELECT (rn - 1) / ${rows} AS bucket, count(*)::int AS count, md5(string_agg(h, '' ORDER BY rn)) AS hash,
            min(key) FILTER (WHERE (rn - 1) % ${rows} = 0) AS first_key, min(key) FILTER (WHERE rn % ${rows} = 0) AS last_key
     FROM (SELECT ${rowHashSql(rowTextSql(table.columns.map(quoteIdentifier)))} AS h, row_number() OVER (ORDER BY ${keyOrderSql(table)}) AS rn, ${key} AS key
           FROM ${quoteQualified(table.schema, table.table)} t${where === undefined ? '' : ` WHERE ${where}`}) d
     GROUP BY 1 ORDER BY 1`;
  return { text, values };
}

/** The last key (text[] `key`) in `range`, for the last bucket of bucketDigestsQuery, which is not full (its `last_key` is null). */
export function lastKeyQuery(table: DigestTable, range: KeyRange = { from: null, to: null }): DigestQuery {
  const values: string[] = [];
  const where = rangeCondition(table, range, values);
  const order = table.key.map((column) => `${keyColumnSql(table, column)} DESC`).join(', ');
  return {
    text: `SELECT ARRAY[${table.key.map((column) => `t.${quoteIdentifier(column)}::text`).join(', ')}] AS key FROM ${quoteQualified(table.schema, table.table)} t${where === undefined ? '' : ` WHERE ${where}`} ORDER BY ${order} LIMIT 1`,
    values,
  };
}
