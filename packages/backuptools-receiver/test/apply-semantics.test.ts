import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from 'kysely';
import { decodeBatchInSlices, encodeBatch, jsonRowOf, type Relation } from '@storx-backup/protocol';
import { batchOf, signedRequest, STATE_SCHEMA, tableText, type TestReceiver, testReceiver } from './support.js';

const TOASTY: Relation = {
  schema: 'satellite/0',
  table: 'toasty',
  replica_identity: 'default',
  columns: [
    { name: 'id', type: 'integer', not_null: true },
    { name: 'big', type: 'text', not_null: false },
    { name: 'small', type: 'integer', not_null: false },
  ],
  key_columns: ['id'],
};
const MOVES: Relation = { ...TOASTY, table: 'moves' };
const KEYLESS: Relation = {
  schema: 'satellite/0',
  table: 'keyless',
  replica_identity: 'full',
  columns: [
    { name: 'a', type: 'text', not_null: false },
    { name: 'j', type: 'json', not_null: false },
  ],
  key_columns: [],
};

let receiver: TestReceiver;
beforeAll(async () => {
  receiver = await testReceiver({ bodyLimitBytes: 4 * 1024 * 1024 });
});
afterAll(async () => {
  await receiver.close();
});

async function apply(batch: ReturnType<typeof batchOf>): Promise<Record<string, unknown>> {
  const response = await receiver.app.inject(await signedRequest(batch, receiver.keys));
  expect(response.statusCode, response.body).toBe(200);
  return response.json();
}

const big = 'x'.repeat(50_000) + 'ünïcødé'.repeat(10_000);

describe('applying changes', () => {
  it('keeps an unchanged-TOAST value when an UPDATE leaves it out', async () => {
    await apply(batchOf([TOASTY], [{ operation: 'INSERT', data: { id: '1', big, small: '1' }, old_data: null, unchanged_toast: [] }]));
    await apply(batchOf([TOASTY], [{ operation: 'UPDATE', data: { id: '1', small: '2' }, old_data: null, unchanged_toast: ['big'] }]));
    await apply(batchOf([TOASTY], [{ operation: 'UPDATE', data: { id: '1', small: '3' }, old_data: { id: '1' }, unchanged_toast: ['big'] }]));
    const { rows } = await sql<{ big: string; small: number }>`SELECT big, small FROM "satellite/0".toasty WHERE id = 1`.execute(receiver.db);
    expect(rows[0]!.small).toBe(3);
    expect(rows[0]!.big).toBe(big);
  });

  it('moves a row when its key changes, also inside one transaction with other changes', async () => {
    await apply(batchOf([MOVES], [
      { operation: 'INSERT', data: { id: '1', big: 'a', small: '1' }, old_data: null, unchanged_toast: [] },
      { operation: 'INSERT', data: { id: '2', big: 'b', small: '2' }, old_data: null, unchanged_toast: [] },
    ]));
    // Swap keys the only way PostgreSQL allows with a primary key: through a free key.
    await apply(batchOf([MOVES], [
      { operation: 'UPDATE', data: { id: '3', big: 'a', small: '1' }, old_data: { id: '1' }, unchanged_toast: [] },
      { operation: 'UPDATE', data: { id: '1', big: 'b', small: '2' }, old_data: { id: '2' }, unchanged_toast: [] },
      { operation: 'UPDATE', data: { id: '2', big: 'a', small: '1' }, old_data: { id: '3' }, unchanged_toast: [] },
    ]));
    expect(await tableText(receiver.db, 'satellite/0', 'moves', 'id')).toEqual(['(1,b,2)', '(2,a,1)']);
  });

  it('applies several changes to one row in one batch in order', async () => {
    await apply(batchOf([MOVES], [
      { operation: 'INSERT', data: { id: '10', big: 'v1', small: '1' }, old_data: null, unchanged_toast: [] },
      { operation: 'UPDATE', data: { id: '10', small: '2' }, old_data: null, unchanged_toast: ['big'] },
      { operation: 'UPDATE', data: { id: '10', small: '3' }, old_data: null, unchanged_toast: ['big'] },
      { operation: 'DELETE', data: null, old_data: { id: '10' }, unchanged_toast: [] },
      { operation: 'INSERT', data: { id: '10', big: 'v2', small: '4' }, old_data: null, unchanged_toast: [] },
      { operation: 'INSERT', data: { id: '11', big: 'w', small: '5' }, old_data: null, unchanged_toast: [] },
      { operation: 'UPDATE', data: { id: '11', big: 'w2', small: '6' }, old_data: null, unchanged_toast: [] },
    ]));
    expect(await tableText(receiver.db, 'satellite/0', 'moves', 'id')).toEqual(['(1,b,2)', '(2,a,1)', '(10,v2,4)', '(11,w2,6)']);
  });

  it('keeps each key\'s last row when a key repeats within one upsert run, its rows as JSON bytes or decoded', async () => {
    for (const [base, xid] of [[20, 1000], [30, 1_000_000_000_000_000]] as const) {
      // A 16-digit xid is left to JSON.parse by the receiver's scanner: the rows arrive as objects.
      const row = (id: number, big: string) => ({ id: String(base + id), big, small: String(id) });
      const batch = batchOf([MOVES], [
        { operation: 'INSERT', data: row(0, 'first'), old_data: null, unchanged_toast: [] },
        { operation: 'INSERT', data: row(1, 'one'), old_data: null, unchanged_toast: [] },
        { operation: 'UPDATE', data: row(0, 'second'), old_data: null, unchanged_toast: [] },
        { operation: 'UPDATE', data: row(0, 'last'), old_data: null, unchanged_toast: [] },
        { operation: 'INSERT', data: row(2, 'two'), old_data: null, unchanged_toast: [] },
        { operation: 'UPDATE', data: row(1, 'one-last'), old_data: null, unchanged_toast: [] },
      ]);
      const sent = { ...batch, events: batch.events.map((event) => ({ ...event, xid })) };
      // Which decoding path the rows take (the receiver's decoder, on the same plaintext).
      const decoded = await decodeBatchInSlices(encodeBatch(sent));
      expect(decoded.events.every((event) => jsonRowOf(event) !== undefined)).toBe(xid === 1000);
      await apply(sent);
      const rows = await sql<{ row: string }>`SELECT t::text AS row FROM "satellite/0".moves AS t WHERE id BETWEEN ${base} AND ${base + 9} ORDER BY id`.execute(receiver.db);
      expect(rows.rows.map((r) => r.row)).toEqual([`(${base},last,0)`, `(${base + 1},one-last,1)`, `(${base + 2},two,2)`]);
    }
  });

  it('applies a table with a unique index besides the key in the order the source had', async () => {
    const people: Relation = { schema: 'satellite/0', table: 'people', replica_identity: 'default', columns: [{ name: 'id', type: 'integer', not_null: true }, { name: 'email', type: 'text', not_null: false }], key_columns: ['id'] };
    await sql`CREATE TABLE "satellite/0".people (id integer PRIMARY KEY, email text UNIQUE)`.execute(receiver.db);
    const person = (id: number, email: string, operation: 'INSERT' | 'UPDATE' = 'UPDATE') => ({ operation, data: { id: String(id), email }, old_data: null, unchanged_toast: [] });
    await apply(batchOf([people], [person(9, 'a', 'INSERT'), person(2, 'b', 'INSERT')]));
    // 9 gives its address up, then 10 takes it: in key text order ("10" < "9") the insert would come first and collide.
    await apply(batchOf([people], [person(9, 'x'), person(10, 'a', 'INSERT')]));
    // 10 frees a, 1 takes it, 2 moves on to c, then 1 takes b: a repeated key written once (at its
    // first place, with its last values) would take b while 2 still holds it.
    await apply(batchOf([people], [person(10, 'd'), person(1, 'a', 'INSERT'), person(2, 'c'), person(1, 'b')]));
    expect(await tableText(receiver.db, 'satellite/0', 'people', 'id')).toEqual(['(1,b)', '(2,c)', '(9,x)', '(10,d)']);
  });

  it('matches rows by their whole value when the backup\'s only unique index is on a nullable column (no key: a NULL matches nothing)', async () => {
    const source: Relation = { schema: 'satellite/0', table: 'nullkeyed', replica_identity: 'full', columns: [{ name: 'id', type: 'integer', not_null: false }, { name: 'v', type: 'text', not_null: false }], key_columns: [] };
    await sql`CREATE TABLE "satellite/0".nullkeyed (id integer UNIQUE, v text)`.execute(receiver.db);
    const row = (id: string | null, v: string) => ({ id, v });
    await apply(batchOf([source], [row(null, 'x'), row(null, 'y'), row('1', 'z')].map((data) => ({ operation: 'INSERT' as const, data, old_data: null, unchanged_toast: [] }))));
    await apply(batchOf([source], [
      { operation: 'UPDATE', data: row(null, 'x2'), old_data: row(null, 'x'), unchanged_toast: [] },
      { operation: 'DELETE', data: null, old_data: row(null, 'y'), unchanged_toast: [] },
      { operation: 'UPDATE', data: row('1', 'z2'), old_data: row('1', 'z'), unchanged_toast: [] },
    ]));
    expect(await tableText(receiver.db, 'satellite/0', 'nullkeyed', 'v')).toEqual(['(,x2)', '(1,z2)']);
  });

  it('counts applied events per table and operation in /metrics, interleaved ones included', async () => {
    const counts = async (): Promise<Map<string, number>> => {
      const body = (await receiver.app.inject({ method: 'GET', url: '/metrics' })).body;
      return new Map([...body.matchAll(/^backuptools_events_applied_total\{table="([^"]+)",operation="([^"]+)"\} (\d+)$/gm)].map((match) => [`${match[2]} ${match[1]}`, Number(match[3])]));
    };
    const before = await counts();
    const row = (id: number) => ({ id: String(id), big: 'm', small: '1' });
    await apply(batchOf([MOVES, TOASTY], [
      { operation: 'INSERT', data: row(40), old_data: null, unchanged_toast: [] },
      { operation: 'INSERT', data: row(41), old_data: null, unchanged_toast: [] },
      { operation: 'INSERT', data: row(40), old_data: null, unchanged_toast: [], table: 'toasty' },
      { operation: 'UPDATE', data: row(40), old_data: null, unchanged_toast: [] },
      { operation: 'INSERT', data: row(42), old_data: null, unchanged_toast: [] },
      { operation: 'INSERT', data: row(43), old_data: null, unchanged_toast: [] },
    ]));
    const after = await counts();
    const added = [...after].map(([key, count]) => [key, count - (before.get(key) ?? 0)]).filter(([, count]) => count !== 0);
    expect(Object.fromEntries(added)).toEqual({ 'INSERT moves': 4, 'UPDATE moves': 1, 'INSERT toasty': 1 });
  });

  it('truncates a table', async () => {
    await apply(batchOf([MOVES], [{ operation: 'TRUNCATE', data: null, old_data: null, unchanged_toast: [] }]));
    expect(await tableText(receiver.db, 'satellite/0', 'moves')).toEqual([]);
  });

  it('changes exactly one of several identical rows of a table without a key (REPLICA IDENTITY FULL)', async () => {
    const row = { a: 'same', j: '{"k":  1}' };
    await apply(batchOf([KEYLESS], [
      { operation: 'INSERT', data: row, old_data: null, unchanged_toast: [] },
      { operation: 'INSERT', data: row, old_data: null, unchanged_toast: [] },
      { operation: 'INSERT', data: row, old_data: null, unchanged_toast: [] },
    ]));
    await apply(batchOf([KEYLESS], [
      { operation: 'DELETE', data: null, old_data: row, unchanged_toast: [] },
      { operation: 'UPDATE', data: { a: 'changed', j: '{"k":  1}' }, old_data: row, unchanged_toast: [] },
    ]));
    expect(await tableText(receiver.db, 'satellite/0', 'keyless', '1')).toEqual(['(changed,"{""k"":  1}")', '(same,"{""k"":  1}")']);
  });

  it('applies a split transaction chunk by chunk, and a replayed chunk is a duplicate', async () => {
    const commitLsn = 'A/1000';
    // Changes come before their commit record, in increasing LSN order.
    const chunk = (index: number, last: boolean, id: number) =>
      batchOf([MOVES], [{ operation: 'INSERT', lsn: `9/${(0x1000 + index * 0x100).toString(16).toUpperCase()}`, seq: index, data: { id: String(id), big: `chunk ${index}`, small: null }, old_data: null, unchanged_toast: [] }], { commitLsn, chunk: { index, last }, sourceId: 'chunked-source' });
    expect(await apply(chunk(0, false, 20))).toMatchObject({ status: 'applied', watermark: { commit_lsn: commitLsn, chunk_index: 0, chunk_last: false } });
    expect(await apply(chunk(0, false, 20))).toMatchObject({ status: 'duplicate' });
    expect(await apply(chunk(1, true, 21))).toMatchObject({ status: 'applied', watermark: { chunk_index: 1, chunk_last: true } });
    expect(await apply(chunk(1, true, 21))).toMatchObject({ status: 'duplicate' });
    expect(await tableText(receiver.db, 'satellite/0', 'moves', 'id')).toEqual(['(20,"chunk 0",)', '(21,"chunk 1",)']);
  });

  it('applies the same batch sent concurrently on two connections exactly once', async () => {
    const batch = batchOf([TOASTY], [
      { operation: 'INSERT', data: { id: '100', big: 'once', small: '1' }, old_data: null, unchanged_toast: [] },
      { operation: 'UPDATE', data: { id: '1', small: '100' }, old_data: null, unchanged_toast: ['big'] },
    ]);
    const before = await sql<{ events: string }>`SELECT events_applied::text AS events FROM ${sql.id(STATE_SCHEMA, 'watermarks')} WHERE source_id = 'storx-test'`.execute(receiver.db);
    const requests = await Promise.all([signedRequest(batch, receiver.keys), signedRequest(batch, receiver.keys), signedRequest(batch, receiver.keys)]);
    const responses = await Promise.all(requests.map((request) => receiver.app.inject(request)));
    const statuses = responses.map((response) => response.json<{ status: string }>().status).sort();
    expect(statuses).toEqual(['applied', 'duplicate', 'duplicate']);
    const after = await sql<{ events: string }>`SELECT events_applied::text AS events FROM ${sql.id(STATE_SCHEMA, 'watermarks')} WHERE source_id = 'storx-test'`.execute(receiver.db);
    expect(Number(after.rows[0]!.events) - Number(before.rows[0]!.events)).toBe(2);
  });

  it('adds a column the source gained, keeping existing rows', async () => {
    const grown: Relation = { ...TOASTY, columns: [...TOASTY.columns, { name: 'added', type: 'timestamp(3) with time zone', not_null: true }] };
    await apply(batchOf([grown], [{ operation: 'INSERT', data: { id: '200', big: 'new', small: '1', added: '2025-01-01 00:00:00.123+00' }, old_data: null, unchanged_toast: [] }]));
    const { rows } = await sql<{ added: string | null; n: string }>`SELECT added::text, count(*) OVER ()::text AS n FROM "satellite/0".toasty WHERE id IN (1, 200) ORDER BY id`.execute(receiver.db);
    expect(rows.map((row) => row.added)).toEqual([null, '2025-01-01 00:00:00.123+00']);
  });

  it('keeps the order across tables linked by a foreign key on the backup (no grouping by table there)', async () => {
    // An operator's backup schema with a foreign key (segments → objects, as parent and child):
    // the child's delete must go before its parent's.
    await sql`CREATE TABLE "satellite/0".objects (id integer PRIMARY KEY, note text)`.execute(receiver.db);
    await sql`CREATE TABLE "satellite/0".segments (id integer PRIMARY KEY, parent integer REFERENCES "satellite/0".objects)`.execute(receiver.db);
    const parents: Relation = { ...TOASTY, table: 'objects', columns: [{ name: 'id', type: 'integer', not_null: true }, { name: 'note', type: 'text', not_null: false }] };
    const children: Relation = { ...TOASTY, table: 'segments', columns: [{ name: 'id', type: 'integer', not_null: true }, { name: 'parent', type: 'integer', not_null: false }] };
    await apply(batchOf([parents, children], [
      { table: 'objects', operation: 'INSERT', data: { id: '1', note: 'p' }, old_data: null, unchanged_toast: [] },
      { table: 'segments', operation: 'INSERT', data: { id: '10', parent: '1' }, old_data: null, unchanged_toast: [] },
      { table: 'segments', operation: 'DELETE', data: null, old_data: { id: '10' }, unchanged_toast: [] },
      { table: 'objects', operation: 'DELETE', data: null, old_data: { id: '1' }, unchanged_toast: [] },
      { table: 'objects', operation: 'INSERT', data: { id: '2', note: 'kept' }, old_data: null, unchanged_toast: [] },
    ]));
    expect(await tableText(receiver.db, 'satellite/0', 'objects')).toEqual(['(2,kept)']);
    expect(await tableText(receiver.db, 'satellite/0', 'segments')).toEqual([]);
  });

  it('truncates only the table the source truncated, not its inheritance children on the backup', async () => {
    await sql`CREATE TABLE "satellite/0".types_matrix (id integer PRIMARY KEY)`.execute(receiver.db);
    await sql`CREATE TABLE "satellite/0".types_matrix_archive () INHERITS ("satellite/0".types_matrix)`.execute(receiver.db);
    await sql`INSERT INTO "satellite/0".types_matrix_archive VALUES (99)`.execute(receiver.db);
    const relation: Relation = { ...TOASTY, table: 'types_matrix', columns: [{ name: 'id', type: 'integer', not_null: true }] };
    await apply(batchOf([relation], [
      { operation: 'INSERT', data: { id: '1' }, old_data: null, unchanged_toast: [] },
      { operation: 'TRUNCATE', data: null, old_data: null, unchanged_toast: [] },
      { operation: 'INSERT', data: { id: '2' }, old_data: null, unchanged_toast: [] },
    ]));
    const { rows } = await sql<{ id: number }>`SELECT id FROM "satellite/0".types_matrix ORDER BY id`.execute(receiver.db);
    expect(rows.map((row) => row.id)).toEqual([2, 99]);
  });
});
