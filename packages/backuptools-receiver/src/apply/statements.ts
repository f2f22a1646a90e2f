import { type RawBuilder, sql } from 'kysely';
import { cellOf, type ChangeEvent, type Row, type RowSource } from '@storx-backup/protocol';
import { ReceiverError } from '../errors.js';
import type { Executor } from '../schema/executor.js';
import type { TargetTable } from '../schema/target-table.js';
import { jsonArrayOf } from './json-rows.js';
import type { Run } from './runs.js';

/**
 * Applies one run with one statement (or one per event for `single`). A run's rows travel as
 * one JSON document (rows still JSON bytes as they came, see json-rows.ts), read as text and
 * cast in SQL to the backup column's type, so what lands is exactly what the source printed.
 * Types come from the backup's catalog (see TypeResolver); every name goes through `sql.id`.
 */
export async function executeRun(db: Executor, run: Run): Promise<void> {
  switch (run.kind) {
    case 'upsert':
      return upsert(db, run.table, run.columns, run.rows);
    case 'update':
      return update(db, run.table, run.columns, run.rows);
    case 'delete':
      return deleteByKey(db, run.table, run.keys);
    case 'single':
      return single(db, run.table, run.event);
  }
}

/**
 * INSERT ... ON CONFLICT DO UPDATE of the rows, in their order. A key may repeat in a run (an
 * INSERT and the UPDATEs after it), and one such statement must not meet a row twice (SQLSTATE
 * 21000): each key is written once, at its first row's place, with its last row's values (the
 * latest position kept by DISTINCT ON the key's text), which is what applying the rows one by
 * one leaves. The rows stay in event order otherwise; a table with a unique index besides the
 * key, which checks each row as it is written, never gets a repeated key in one run (runs.ts).
 * Keys compare as the source printed them, byte for byte: two spellings of one value ("7" and
 * "07") stay two rows, and the backup refuses the batch as before. Key columns are NOT NULL
 * (TargetTable.key).
 */
async function upsert(db: Executor, table: TargetTable, columns: readonly string[], rows: readonly RowSource[]): Promise<void> {
  const records = recordsOf(table, columns, rows);
  const target = sql.join(columns.map((column) => sql.id(column)));
  const nonKey = columns.filter((column) => !table.key.includes(column));
  const keyIndexes = table.key.map((column) => columns.indexOf(column));
  // A table with a unique index besides the key gets no repeated key in one run (runs.ts): nothing to fold.
  const fold = rows.length > 1 && table.key.length > 0 && !table.uniqueBesidesKey && keyIndexes.every((index) => index >= 0);
  let source = sql`SELECT ${records.select} FROM ${records.from}`;
  if (fold) {
    const key = sql.join(keyIndexes.map((index) => sql`${records.text(index)} COLLATE "C"`));
    const kept = sql`SELECT DISTINCT ON (${key}) ${sql.id('j')}.*, min(${records.position}) OVER (PARTITION BY ${key}) AS ${sql.id('first')}
      FROM ${records.from} ORDER BY ${key}, ${records.position} DESC`;
    // The outer query names its rows `j` too, so the casts read the kept rows' columns.
    source = sql`SELECT ${records.select} FROM (${kept}) AS ${sql.id('j')} ORDER BY ${sql.id('j', 'first')}`;
  }
  let onConflict: RawBuilder<unknown> = sql``;
  if (table.key.length > 0) {
    const conflict = sql.join(table.key.map((column) => sql.id(column)));
    onConflict =
      nonKey.length === 0
        ? sql` ON CONFLICT (${conflict}) DO NOTHING`
        : sql` ON CONFLICT (${conflict}) DO UPDATE SET ${sql.join(nonKey.map((column) => sql`${sql.id(column)} = EXCLUDED.${sql.id(column)}`))}`;
  }
  await sql`INSERT INTO ${sql.id(table.schema, table.table)} (${target}) ${source}${onConflict}`.execute(db);
}

async function update(db: Executor, table: TargetTable, columns: readonly string[], rows: readonly Row[]): Promise<void> {
  const setColumns = columns.filter((column) => !table.key.includes(column));
  if (setColumns.length === 0) return; // only the key was sent, and it did not change
  const keyColumns = table.key;
  // An update run never holds a key twice (grouping starts a new run): no fold needed.
  const source = recordsOf(table, [...keyColumns, ...setColumns], rows);
  const assignments = setColumns.map((column, index) => sql`${sql.id(column)} = ${source.cast(keyColumns.length + index)}`);
  const match = keyColumns.map((column, index) => sql`${sql.id('t', column)} = ${source.cast(index)}`);
  await sql`UPDATE ${sql.id(table.schema, table.table)} AS ${sql.id('t')} SET ${sql.join(assignments)}
    FROM ${source.from} WHERE ${sql.join(match, sql` AND `)}`.execute(db);
}

async function deleteByKey(db: Executor, table: TargetTable, keys: readonly RowSource[]): Promise<void> {
  const source = recordsOf(table, table.key, keys);
  const match = table.key.map((column, index) => sql`${sql.id('t', column)} = ${source.cast(index)}`);
  await sql`DELETE FROM ${sql.id(table.schema, table.table)} AS ${sql.id('t')} USING ${source.from} WHERE ${sql.join(match, sql` AND `)}`.execute(db);
}

async function single(db: Executor, table: TargetTable, event: ChangeEvent): Promise<void> {
  const name = sql.id(table.schema, table.table);
  switch (event.operation) {
    case 'TRUNCATE':
      await sql`TRUNCATE ONLY ${name}`.execute(db); // the source truncated this table, not its children
      return;
    case 'INSERT':
      return upsert(db, table, Object.keys(event.data), [event.data]);
    case 'UPDATE': {
      const assignments = Object.entries(event.data).map(([column, value]) => sql`${sql.id(column)} = ${castValue(table, column, value)}`);
      const where = table.key.length > 0 ? keyMatch(table, { ...event.data, ...(event.old_data ?? {}) }) : oneRowMatching(table, requireOld(event));
      await sql`UPDATE ${name} SET ${sql.join(assignments)} WHERE ${where}`.execute(db);
      return;
    }
    case 'DELETE': {
      const where = table.key.length > 0 ? keyMatch(table, event.old_data) : oneRowMatching(table, event.old_data);
      await sql`DELETE FROM ${name} WHERE ${where}`.execute(db);
      return;
    }
  }
}

function keyMatch(table: TargetTable, row: Row): RawBuilder<unknown> {
  return sql.join(
    table.key.map((column) => sql`${sql.id(column)} = ${castValue(table, column, cellOf(row, column) ?? null)}`),
    sql` AND `,
  );
}

/**
 * A table without a key (REPLICA IDENTITY FULL) may hold identical rows; the source changed one
 * of them, so the backup changes exactly one too. Values are compared as text, which works for
 * types without an equality operator (json, point) and is exact because the backup's text equals
 * the source's.
 */
function oneRowMatching(table: TargetTable, old: Row): RawBuilder<unknown> {
  const conditions = Object.entries(old).map(([column, value]) => sql`${sql.id(column)}::text IS NOT DISTINCT FROM ${value}::text`);
  return sql`ctid = (SELECT ctid FROM ${sql.id(table.schema, table.table)} WHERE ${sql.join(conditions, sql` AND `)} LIMIT 1)`;
}

function requireOld(event: ChangeEvent & { operation: 'UPDATE' }): Row {
  if (event.old_data === null) {
    throw new ReceiverError('APPLY_REJECTED', `UPDATE of ${event.schema}.${event.table} at ${event.lsn} has no key and no old row; give the source table a primary key or REPLICA IDENTITY FULL`);
  }
  return event.old_data;
}

function castValue(table: TargetTable, column: string, value: string | null): RawBuilder<unknown> {
  return sql`${value}::text::${sql.raw(columnType(table, column))}`;
}

function columnType(table: TargetTable, column: string): string {
  const type = table.columns.get(column);
  if (type === undefined) throw new ReceiverError('TABLE_INCOMPATIBLE', `backup table ${table.schema}.${table.table} has no column ${JSON.stringify(column)}`);
  return type;
}

/** A run's rows as a relation `j` of text columns, and the casts that read them. */
interface Records {
  /** `ROWS FROM (...) WITH ORDINALITY AS j(c0, c1, ..., n)`, for a FROM clause. */
  from: RawBuilder<unknown>;
  /** Every column, cast to its backup type, in the run's column order. */
  select: RawBuilder<unknown>;
  /** Column `index` cast to its backup type. */
  cast: (index: number) => RawBuilder<unknown>;
  /** Column `index` as the text the source printed. */
  text: (index: number) => RawBuilder<unknown>;
  /** The row's position in the run, from 1. */
  position: RawBuilder<unknown>;
}

/**
 * `ROWS FROM (json_to_recordset($1::json) AS (<column> text, ...)) WITH ORDINALITY AS j(c0, c1,
 * ..., n)`: the rows as one JSON document (json-rows.ts), each member read as text (a JSON null
 * is NULL; members not asked for are ignored), `n` the row's position. The column definitions
 * name the columns (they must match the rows' member names); the aliases after are positional
 * so no sender-chosen name appears in them. In a UTF8 backup database (the only kind whose text
 * holds every source value) PostgreSQL decodes the JSON strings exactly as `JSON.parse` does;
 * a `\u0000`, which no text can hold, is refused (SQLSTATE 22P05) as the NUL it decodes to was
 * before.
 */
function recordsOf(table: TargetTable, columns: readonly string[], rows: readonly RowSource[]): Records {
  const definitions = sql.join(columns.map((column) => sql`${sql.id(column)} text`));
  const aliases = sql.join([...columns.map((_, index) => sql.id(`c${index}`)), sql.id('n')]);
  const from = sql`ROWS FROM (json_to_recordset(${jsonArrayOf(rows)}::json) AS (${definitions})) WITH ORDINALITY AS ${sql.id('j')}(${aliases})`;
  const text = (index: number): RawBuilder<unknown> => sql.id('j', `c${index}`);
  const cast = (index: number): RawBuilder<unknown> => sql`${text(index)}::${sql.raw(columnType(table, columns[index]!))}`;
  return { from, select: sql.join(columns.map((_, index) => cast(index))), cast, text, position: sql.id('j', 'n') };
}
