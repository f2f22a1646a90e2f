import { cellOf, type ChangeEvent, jsonRowOf, type Row, rowOf, type RowSource } from '@storx-backup/protocol';
import type { TargetTable } from '../schema/target-table.js';

/**
 * A run is a stretch of consecutive events that one set-based statement can apply with the
 * same effect as applying them one by one, in order:
 *
 * - `upsert`: INSERTs, and UPDATEs that send every column without changing the key, of one
 *   table and one column set, in order: a key may repeat (the statement writes it once, with its
 *   last row's values, see statements.ts), except on a table with a unique index besides the key,
 *   where a repeated key starts a new run. `inserts` says every row came from an INSERT: such a
 *   run may go through COPY.
 * - `update`: UPDATEs of one table and one column set that keep their key (typically those with
 *   unchanged-TOAST columns left out). A repeated key starts a new run: one UPDATE statement must
 *   not meet the same row twice. One row per run on a table with a unique index besides the key.
 * - `delete`: DELETEs by key of one table.
 * - `single`: everything else, one statement per event: key changes (a set-based key move
 *   could collide with a key the same statement frees later), tables without a key (rows are
 *   matched by their whole old value), TRUNCATE.
 */
export type Run =
  | { kind: 'upsert'; table: TargetTable; columns: readonly string[]; rows: RowSource[]; inserts: boolean }
  | { kind: 'update'; table: TargetTable; columns: readonly string[]; rows: Row[] }
  | { kind: 'delete'; table: TargetTable; keys: RowSource[] }
  | { kind: 'single'; table: TargetTable; event: ChangeEvent };

/**
 * The most rows one set-based statement takes. Building a statement's parameters and the
 * driver's serialization of them run on the event loop without a break: a run of 100,000 rows
 * held the receiver's loop (its /healthz, every other request) for over a second. Between two
 * statements the loop is free while the database works. Cutting a run is always safe: runs
 * apply in order, so a key folded into the next statement still ends with its last row.
 */
export const MAX_RUN_ROWS = 2_000;

/**
 * The most rows of a run made only of INSERTs. Such a run is applied with COPY, whose data is
 * encoded and sent a chunk at a time with the loop free in between (see RunExecutor), so it may
 * be longer: fewer statements and savepoints per batch. What still holds the loop is grouping
 * the run's events (about a microsecond each); at 10,000 that is ~10 ms, even on a busy core
 * tens of milliseconds at most. Should the COPY fall back to the upsert, that takes it
 * MAX_RUN_ROWS rows at a time.
 */
export const MAX_INSERT_RUN_ROWS = 10_000;

type Classified =
  | { kind: 'upsert'; columns: readonly string[]; row: RowSource; insert: boolean }
  | { kind: 'update'; columns: readonly string[]; row: Row; insert: false }
  | { kind: 'delete'; key: RowSource }
  | { kind: 'single' };

/**
 * Splits events (in order) into runs; `tableOf` maps an event to its prepared backup table.
 * Lazily: a run is handed out as soon as the next event cannot join it, so a caller that awaits
 * each run's statement frees the event loop every MAX_RUN_ROWS events at most.
 */
export function* groupIntoRuns(events: readonly ChangeEvent[], tableOf: (event: ChangeEvent) => TargetTable): Generator<Run> {
  let current: Exclude<Run, { kind: 'single' }> | undefined;
  // A run's keys where a repeated key must start a new run: an `update` run's (one UPDATE
  // statement must not meet a row twice), and an upsert run's on a table with a unique index
  // besides the key (see TargetTable.uniqueBesidesKey). Key texts are the costly part of grouping
  // (a decode, a string and a hash per event), so other upsert runs make none: they may repeat a
  // key, which their statement folds.
  let seenKeys = new Set<string>();

  for (const event of events) {
    const table = tableOf(event);
    const next = classify(event, table, current);
    if (next.kind === 'single') {
      if (current !== undefined) yield current;
      current = undefined;
      yield { kind: 'single', table, event };
      continue;
    }
    const key = next.kind === 'update' || (next.kind === 'upsert' && table.uniqueBesidesKey && table.key.length > 0) ? keyText(table, rowOf(next.row)) : undefined;
    if (current === undefined || !continues(current, next, table) || (key !== undefined && seenKeys.has(key)) || rowsIn(current) >= rowLimit(current, next, table)) {
      if (current !== undefined) yield current;
      current = startRun(next, table);
      seenKeys = new Set();
    }
    if (next.kind === 'delete') {
      if (current.kind === 'delete') current.keys.push(next.key);
    } else if (current.kind === 'update') {
      current.rows.push(next.row as Row);
    } else if (current.kind === 'upsert') {
      current.rows.push(next.row);
      if (!next.insert) current.inserts = false;
    }
    if (key !== undefined) seenKeys.add(key);
  }
  if (current !== undefined) yield current;
}

function rowLimit(run: Exclude<Run, { kind: 'single' }>, next: Exclude<Classified, { kind: 'single' }>, table: TargetTable): number {
  // `UPDATE ... FROM` changes rows in join order, not the source's: one at a time where a
  // unique index besides the key checks each row as it is written.
  if (run.kind === 'update' && table.uniqueBesidesKey) return 1;
  return run.kind === 'upsert' && run.inserts && next.kind === 'upsert' && next.insert ? MAX_INSERT_RUN_ROWS : MAX_RUN_ROWS;
}

function rowsIn(run: Exclude<Run, { kind: 'single' }>): number {
  return run.kind === 'delete' ? run.keys.length : run.rows.length;
}

function startRun(first: Exclude<Classified, { kind: 'single' }>, table: TargetTable): Exclude<Run, { kind: 'single' }> {
  switch (first.kind) {
    case 'delete':
      return { kind: 'delete', table, keys: [] };
    case 'upsert':
      return { kind: 'upsert', table, columns: first.columns, rows: [], inserts: true };
    case 'update':
      return { kind: 'update', table, columns: first.columns, rows: [] };
  }
}

function classify(event: ChangeEvent, table: TargetTable, current: Run | undefined): Classified {
  const keyed = table.key.length > 0;
  switch (event.operation) {
    case 'INSERT': {
      // A row still as JSON bytes stays so: COPY writes it from them (copy-text.ts).
      const json = jsonRowOf(event);
      if (json !== undefined) return { kind: 'upsert', columns: columnsOfJsonRow(json.columns, table), row: json, insert: true };
      return { kind: 'upsert', columns: columnsOf(event.data, table, current), row: event.data, insert: true };
    }
    case 'UPDATE': {
      if (!keyed) return { kind: 'single' };
      // A row still as JSON bytes is an UPDATE that kept its key (no old row sent) and left no
      // column out as unchanged TOAST: an upsert when it has every column of the backup table.
      const json = jsonRowOf(event);
      if (json !== undefined) {
        const columns = columnsOfJsonRow(json.columns, table);
        return columns.length === table.columns.size ? { kind: 'upsert', columns, row: json, insert: false } : { kind: 'update', columns, row: event.data, insert: false };
      }
      if (keyChanged(event, table)) return { kind: 'single' };
      const columns = columnsOf(event.data, table, current);
      const complete = event.unchanged_toast.length === 0 && columns.length === table.columns.size;
      return complete ? { kind: 'upsert', columns, row: event.data, insert: false } : { kind: 'update', columns, row: event.data, insert: false };
    }
    case 'DELETE': {
      if (!keyed) return { kind: 'single' };
      const json = jsonRowOf(event);
      if (json !== undefined) return table.key.every((column) => json.columns.includes(column)) ? { kind: 'delete', key: json } : { kind: 'single' };
      if (!table.key.every((column) => cellOf(event.old_data, column) !== undefined)) return { kind: 'single' };
      return { kind: 'delete', key: event.old_data };
    }
    case 'TRUNCATE':
      return { kind: 'single' };
  }
}

/** True when the UPDATE's old key (sent only when a key column changed) differs from its new one. */
export function keyChanged(event: ChangeEvent & { operation: 'UPDATE' }, table: TargetTable): boolean {
  const old = event.old_data;
  if (old === null) return false;
  return table.key.some((column) => cellOf(old, column) !== undefined && cellOf(old, column) !== cellOf(event.data, column));
}

function continues(run: Run, next: Classified, table: TargetTable): boolean {
  if (run.table !== table || run.kind !== next.kind) return false;
  if ((run.kind === 'upsert' || run.kind === 'update') && (next.kind === 'upsert' || next.kind === 'update')) {
    return sameColumns(run.columns, next.columns);
  }
  return run.kind === 'delete';
}

/**
 * The event's columns in the backup table's column order (a stable order per column set). The
 * current run's list when the row has exactly its columns: the common case, checked without
 * building a list per event.
 */
function columnsOf(row: Row, table: TargetTable, current: Run | undefined): readonly string[] {
  if (current !== undefined && current.table === table && (current.kind === 'upsert' || current.kind === 'update')) {
    const columns = current.columns;
    if (Object.keys(row).length === columns.length && columns.every((column) => Object.hasOwn(row, column))) return columns;
  }
  return [...table.columns.keys()].filter((column) => Object.hasOwn(row, column));
}

/**
 * columnsOf for a row read as JSON bytes, from its member names (one shared list per shape of
 * row, so the answer is kept per list).
 */
function columnsOfJsonRow(names: readonly string[], table: TargetTable): readonly string[] {
  const known = jsonRowColumns.get(names);
  if (known !== undefined && known.table === table) return known.columns;
  const present = new Set(names);
  const columns = [...table.columns.keys()].filter((column) => present.has(column));
  jsonRowColumns.set(names, { table, columns });
  return columns;
}

const jsonRowColumns = new WeakMap<readonly string[], { table: TargetTable; columns: readonly string[] }>();

function sameColumns(a: readonly string[], b: readonly string[]): boolean {
  return a === b || (a.length === b.length && a.every((column, index) => column === b[index]));
}

function keyText(table: TargetTable, row: Row): string {
  // One key column (the common case): its text, with NULL (never a key value, but possible in an
  // unkeyed table's row) kept apart from any text.
  if (table.key.length === 1) return cellOf(row, table.key[0]!) ?? '\u0000';
  return JSON.stringify(table.key.map((column) => cellOf(row, column) ?? null));
}

/**
 * The events grouped by table, each table's events in their original order, when every table
 * involved is independent (no foreign key, no user trigger): applied in one transaction, the
 * result is the same, and a transaction that writes an object and then its segments becomes
 * two statements per batch instead of two per transaction. Otherwise the order is kept.
 */
export function groupedByTable(events: readonly ChangeEvent[], tableOf: (event: ChangeEvent) => TargetTable): readonly ChangeEvent[] {
  const byTable = new Map<TargetTable, ChangeEvent[]>();
  for (const event of events) {
    const table = tableOf(event);
    if (!table.independent) return events;
    let list = byTable.get(table);
    if (list === undefined) byTable.set(table, (list = []));
    list.push(event);
  }
  return byTable.size <= 1 ? events : [...byTable.values()].flat();
}
