import { describe, expect, it } from 'vitest';
import { type Batch, type ChangeEvent, decodeBatchInSlices, encodeBatch, jsonRowOf, type Relation, rowOf } from '@storx-backup/protocol';
import { groupedByTable, groupIntoRuns, MAX_INSERT_RUN_ROWS, MAX_RUN_ROWS } from '../src/apply/runs.js';
import type { TargetTable } from '../src/schema/target-table.js';

const objects: TargetTable = { schema: 's', table: 'objects', columns: new Map([['id', 'bigint'], ['a', 'text'], ['b', 'text']]), key: ['id'], uniqueBesidesKey: false, independent: true, copyable: true };
const keyless: TargetTable = { schema: 's', table: 'keyless', columns: new Map([['a', 'text']]), key: [], uniqueBesidesKey: false, independent: true, copyable: true };
const common = { schema: 's', timestamp: 't', lsn: '0/1', commit_lsn: '0/1', xid: 1, seq: 0 };

const insert = (id: number, a = 'x', table = 'objects'): ChangeEvent => ({ ...common, table, operation: 'INSERT', data: { id: String(id), a, b: 'b' }, old_data: null, unchanged_toast: [] });
const update = (id: number, data: Record<string, string>, extra: Partial<ChangeEvent & { operation: 'UPDATE' }> = {}): ChangeEvent =>
  ({ ...common, table: 'objects', operation: 'UPDATE', data: { id: String(id), ...data }, old_data: null, unchanged_toast: [], ...extra });
const remove = (id: number): ChangeEvent => ({ ...common, table: 'objects', operation: 'DELETE', data: null, old_data: { id: String(id) }, unchanged_toast: [] });

const tableOf = (event: ChangeEvent): TargetTable => (event.table === 'keyless' ? keyless : objects);
const shape = (events: ChangeEvent[]) =>
  [...groupIntoRuns(events, tableOf)].map((run) => {
    switch (run.kind) {
      case 'upsert':
      case 'update':
        return `${run.kind}:${run.rows.length}`;
      case 'delete':
        return `delete:${run.keys.length}`;
      case 'single':
        return `single:${run.event.operation}`;
    }
  });

describe('grouping events into set-based runs', () => {
  it('puts consecutive inserts into one upsert, and complete updates with them', () => {
    expect(shape([insert(1), insert(2), update(3, { a: 'y', b: 'z' }), insert(4)])).toEqual(['upsert:4']);
  });

  it('keeps a repeated key in an upsert run, in order (the statement keeps its last row)', () => {
    const runs = [...groupIntoRuns([insert(1, 'first'), insert(2), update(1, { a: 'last', b: 'b' })], tableOf)];
    expect(runs).toHaveLength(1);
    const run = runs[0]!;
    expect(run.kind === 'upsert' && run.rows.map((row) => rowOf(row)['a'])).toEqual(['first', 'x', 'last']);
  });

  it('keeps partial updates (unchanged TOAST) apart and splits them when a key repeats', () => {
    expect(shape([update(1, { a: 'y' }, { unchanged_toast: ['b'] }), update(2, { a: 'y' }, { unchanged_toast: ['b'] }), update(1, { a: 'z' }, { unchanged_toast: ['b'] })])).toEqual(['update:2', 'update:1']);
  });

  it('starts a new run when the column set, operation or table changes, keeping order', () => {
    expect(shape([insert(1), remove(1), insert(1), update(2, { a: 'y' }, { unchanged_toast: ['b'] }), remove(3), remove(4)])).toEqual(['upsert:1', 'delete:1', 'upsert:1', 'update:1', 'delete:2']);
  });

  it('applies key changes, keyless tables and TRUNCATE one event at a time', () => {
    const move = update(2, { a: 'y', b: 'z' }, { old_data: { id: '1' } });
    const truncate: ChangeEvent = { ...common, table: 'objects', operation: 'TRUNCATE', data: null, old_data: null, unchanged_toast: [] };
    const keylessDelete: ChangeEvent = { ...common, table: 'keyless', operation: 'DELETE', data: null, old_data: { a: 'x' }, unchanged_toast: [] };
    expect(shape([insert(1), move, truncate, keylessDelete, insert(5)])).toEqual(['upsert:1', 'single:UPDATE', 'single:TRUNCATE', 'single:DELETE', 'upsert:1']);
  });

  it('cuts a run at MAX_RUN_ROWS (one statement never holds the event loop long), a folded key still ending with its last row', () => {
    const updates = Array.from({ length: MAX_RUN_ROWS + 1 }, (_, index) => update(index, { a: 'x', b: 'b' }));
    expect(shape([...updates, remove(1), remove(2)])).toEqual([`upsert:${MAX_RUN_ROWS}`, 'upsert:1', 'delete:2']);
    const runs = [...groupIntoRuns([...updates, update(0, { a: 'last', b: 'b' })], tableOf)];
    expect(runs.map((run) => run.kind === 'upsert' && run.rows.length)).toEqual([MAX_RUN_ROWS, 2]);
    const last = runs[1]!;
    expect(last.kind === 'upsert' && last.rows.map((source) => [rowOf(source)['id'], rowOf(source)['a']])).toEqual([['2000', 'x'], ['0', 'last']]);
  });

  it('marks runs made only of INSERTs (COPY may apply them) and lets them grow to MAX_INSERT_RUN_ROWS', () => {
    const inserts = Array.from({ length: MAX_INSERT_RUN_ROWS + 1 }, (_, index) => insert(index));
    const runs = [...groupIntoRuns(inserts, tableOf)];
    expect(runs.map((run) => run.kind === 'upsert' && [run.rows.length, run.inserts])).toEqual([[MAX_INSERT_RUN_ROWS, true], [1, true]]);
    // An UPDATE joining an insert run makes it an upsert: the row may already be there.
    const mixed = [...groupIntoRuns([insert(1), insert(2), update(1, { a: 'y', b: 'z' })], tableOf)];
    expect(mixed.map((run) => run.kind === 'upsert' && [run.rows.length, run.inserts])).toEqual([[3, false]]);
    // An insert run past MAX_RUN_ROWS takes no UPDATE: the upsert it would become must stay short.
    const long = [...groupIntoRuns([...inserts.slice(0, MAX_RUN_ROWS + 5), update(1, { a: 'y', b: 'z' })], tableOf)];
    expect(long.map((run) => run.kind === 'upsert' && [run.rows.length, run.inserts])).toEqual([[MAX_RUN_ROWS + 5, true], [1, false]]);
  });

  it('takes rows still as JSON bytes: a complete UPDATE into the upsert, a partial one as an update run, a DELETE by the backup key, else alone', async () => {
    // The source has no column b: its rows are partial for the backup's objects (id, a, b).
    const relation: Relation = { schema: 's', table: 'objects', replica_identity: 'default', columns: [{ name: 'id', type: 'bigint', not_null: true }, { name: 'a', type: 'text', not_null: false }], key_columns: ['id'] };
    const head = (seq: number) => ({ schema: 's', table: 'objects', timestamp: 't', lsn: '0/1', commit_lsn: '0/1', xid: 1, seq });
    const batch: Batch = {
      version: 2, source_id: 'runs', slot: 'slot', commit_lsn: '0/1', chunk: { index: 0, last: true }, relations: [relation],
      events: [
        { ...head(0), operation: 'UPDATE', data: { id: '1', a: 'x' }, old_data: null, unchanged_toast: [] },
        { ...head(1), operation: 'DELETE', data: null, old_data: { id: '2' }, unchanged_toast: [] },
      ],
    };
    const events = (await decodeBatchInSlices(encodeBatch(batch))).events;
    expect(events.every((event) => jsonRowOf(event) !== undefined)).toBe(true);
    expect([...groupIntoRuns(events, () => objects)].map((run) => run.kind)).toEqual(['update', 'delete']);
    const complete: TargetTable = { ...objects, columns: new Map([['id', 'bigint'], ['a', 'text']]) };
    expect([...groupIntoRuns(events, () => complete)].map((run) => run.kind)).toEqual(['upsert', 'delete']);
    // Keyed on a column the DELETE does not carry: matched by itself, not by key.
    const keyedOnA: TargetTable = { ...complete, key: ['a'] };
    expect([...groupIntoRuns(events, () => keyedOnA)].map((run) => (run.kind === 'single' ? `single:${run.event.operation}` : run.kind))).toEqual(['upsert', 'single:DELETE']);
  });

  it('on a table with a unique index besides the key, starts a new upsert run at a repeated key and takes updates one at a time', () => {
    const unique: TargetTable = { ...objects, uniqueBesidesKey: true };
    const runs = (events: ChangeEvent[]) => [...groupIntoRuns(events, () => unique)].map((run) => (run.kind === 'upsert' || run.kind === 'update' ? `${run.kind}:${run.rows.length}` : run.kind));
    expect(runs([insert(1), update(2, { a: 'c', b: 'b' }), update(1, { a: 'b', b: 'b' }), insert(3)])).toEqual(['upsert:2', 'upsert:2']);
    expect(runs([update(1, { a: 'y' }, { unchanged_toast: ['b'] }), update(2, { a: 'y' }, { unchanged_toast: ['b'] })])).toEqual(['update:1', 'update:1']);
    // Without such an index the key repeats within the run (the statement folds it).
    expect(shape([insert(1), update(2, { a: 'c', b: 'b' }), update(1, { a: 'b', b: 'b' }), insert(3)])).toEqual(['upsert:4']);
  });

  it('treats an update whose old key equals its new key as no key change', () => {
    expect(shape([update(1, { a: 'y', b: 'z' }, { old_data: { id: '1', a: 'old', b: 'old' } })])).toEqual(['upsert:1']);
  });
});

describe('tables without a key', () => {
  it('never folds identical rows: they are distinct rows', () => {
    const row: ChangeEvent = { ...common, table: 'keyless', operation: 'INSERT', data: { a: 'x' }, old_data: null, unchanged_toast: [] };
    const runs = [...groupIntoRuns([row, row, row], tableOf)];
    expect(runs.map((run) => run.kind === 'upsert' && run.rows.length)).toEqual([3]);
  });
});

describe('grouping a batch by table', () => {
  const segments: TargetTable = { schema: 's', table: 'segments', columns: new Map([['id', 'bigint'], ['a', 'text'], ['b', 'text']]), key: ['id'], uniqueBesidesKey: false, independent: true, copyable: true };
  const byName = (event: ChangeEvent): TargetTable => (event.table === 'segments' ? segments : objects);
  const interleaved = [insert(1), insert(10, 'x', 'segments'), insert(2), insert(11, 'x', 'segments'), remove(1), insert(12, 'x', 'segments')];

  it('puts independent tables one after the other, each in its own order: fewer statements', () => {
    const grouped = groupedByTable(interleaved, byName);
    expect(grouped.map((event) => `${event.table}:${event.operation}:${JSON.stringify(event.data ?? event.old_data)}`)).toEqual([
      'objects:INSERT:{"id":"1","a":"x","b":"b"}',
      'objects:INSERT:{"id":"2","a":"x","b":"b"}',
      'objects:DELETE:{"id":"1"}',
      'segments:INSERT:{"id":"10","a":"x","b":"b"}',
      'segments:INSERT:{"id":"11","a":"x","b":"b"}',
      'segments:INSERT:{"id":"12","a":"x","b":"b"}',
    ]);
    expect([...groupIntoRuns(grouped, byName)]).toHaveLength(3);
    expect([...groupIntoRuns(interleaved, byName)]).toHaveLength(6);
  });

  it('keeps the order when a table has a foreign key or a trigger', () => {
    const linked = (event: ChangeEvent): TargetTable => (event.table === 'segments' ? { ...segments, independent: false } : objects);
    expect(groupedByTable(interleaved, linked)).toBe(interleaved);
  });
});
