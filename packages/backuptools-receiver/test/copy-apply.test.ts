// Insert runs applied with COPY on a real backup database: values arrive byte-exact (every
// column's text equal to the source's), rows already there make the run fall back to the upsert
// with the same end state, a conflict in one run leaves the others applied once, and a value the
// backup refuses in the middle of a long COPY applies nothing and leaves the connection usable.
// Whether a run went through COPY is read from the rows themselves: COPY runs in a savepoint, so
// its rows carry a subtransaction's xmin, while the upsert (and the watermark) write with the
// batch's top-level transaction id.
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { sql } from 'kysely';
import type pg from 'pg';
import type { Batch, Relation } from '@storx-backup/protocol';
import { connect, createDatabase, TYPE_MATRIX_ROWS, TYPE_MATRIX_SESSION_SETTINGS, typeMatrixBigByteaInsert, typeMatrixTableDdl, typeMatrixTypesDdl } from '@storx-backup/test-postgres';
import { copyTextChunks } from '../src/apply/copy-text.js';
import { COPY_MIN_ROWS } from '../src/apply/run-executor.js';
import { batchOf, nextLsn, OBJECTS, objectRow, signedRequest, STATE_SCHEMA, tableText, type TestReceiver, testReceiver } from './support.js';

const SCHEMA = 'satellite/0';
const SOURCE_ID = 'copy-apply-test';
const KEYLESS: Relation = {
  schema: SCHEMA,
  table: 'keyless',
  replica_identity: 'full',
  columns: [
    { name: 'a', type: 'text', not_null: false },
    { name: 'j', type: 'json', not_null: false },
  ],
  key_columns: [],
};

let source: pg.Client;
let receiver: TestReceiver;

beforeAll(async () => {
  source = await connect(await createDatabase(inject('pgSourceUrl'), 'copy'));
  for (const statement of [...TYPE_MATRIX_SESSION_SETTINGS, `CREATE SCHEMA "${SCHEMA}"`, ...typeMatrixTypesDdl(SCHEMA), typeMatrixTableDdl(SCHEMA)]) await source.query(statement);
  receiver = await testReceiver({ bodyLimitBytes: 16 * 1024 * 1024, tables: ['objects', 'types_matrix', 'awkward', 'keyless'] });
  for (const statement of [`CREATE SCHEMA "${SCHEMA}"`, ...typeMatrixTypesDdl(SCHEMA)]) await sql.raw(statement).execute(receiver.db);
});

afterAll(async () => {
  await source.end();
  await receiver.close();
});

async function post(batch: Batch): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await receiver.app.inject(await signedRequest(batch, receiver.keys));
  return { status: response.statusCode, body: response.json() };
}

const inserts = (rows: Record<string, string | null>[], table: string) => rows.map((data) => ({ operation: 'INSERT' as const, data, old_data: null, unchanged_toast: [], table }));

async function relationOf(table: string, key: string[]): Promise<Relation> {
  const { rows } = await source.query<{ name: string; type: string; not_null: boolean }>(
    `SELECT attname AS name, format_type(atttypid, atttypmod) AS type, attnotnull AS not_null
     FROM pg_attribute WHERE attrelid = $1::regclass AND attnum > 0 AND NOT attisdropped ORDER BY attnum`,
    [`"${SCHEMA}".${table}`],
  );
  return { schema: SCHEMA, table, replica_identity: 'default', columns: rows, key_columns: key };
}

/** Each source row's values as PostgreSQL prints them, what the replicator sends. */
async function sourceRows(relation: Relation): Promise<Record<string, string | null>[]> {
  const select = relation.columns.map((column) => `${JSON.stringify(column.name)}::text`).join(', ');
  return (await source.query<Record<string, string | null>>(`SELECT ${select} FROM "${SCHEMA}".${relation.table} ORDER BY id`)).rows;
}

async function rowText(db: 'source' | 'backup', table: string): Promise<string[]> {
  if (db === 'source') return (await source.query<{ row: string }>(`SELECT t::text AS row FROM "${SCHEMA}".${table} t ORDER BY id`)).rows.map((row) => row.row);
  for (const statement of TYPE_MATRIX_SESSION_SETTINGS) await sql.raw(statement).execute(receiver.db);
  return tableText(receiver.db, SCHEMA, table, 'id');
}

/** Rows of `table` written by the batch's top-level transaction (the upsert), and by a subtransaction (COPY). */
async function writers(table: string): Promise<{ upsert: number; copy: number }> {
  const { rows } = await sql<{ upsert: string; copy: string }>`
    SELECT count(*) FILTER (WHERE t.xmin = w.xmin)::text AS upsert, count(*) FILTER (WHERE t.xmin <> w.xmin)::text AS copy
    FROM ${sql.id(SCHEMA, table)} AS t, ${sql.id(STATE_SCHEMA, 'watermarks')} AS w WHERE w.source_id = ${SOURCE_ID}`.execute(receiver.db);
  return { upsert: Number(rows[0]!.upsert), copy: Number(rows[0]!.copy) };
}

/** Key, size and metadata of every objects row, as text, in key order. */
async function objectsText(): Promise<string[]> {
  const { rows } = await sql<{ row: string }>`SELECT concat_ws(' ', object_key::text, total_size::text, metadata::text) AS row FROM "satellite/0".objects ORDER BY object_key`.execute(receiver.db);
  return rows.map((row) => row.row);
}
const objectText = (row: Record<string, string | null>): string => `${row['object_key']} ${row['total_size']} ${row['metadata']}`;

async function watermark(): Promise<string | undefined> {
  const { rows } = await sql<{ lsn: string }>`SELECT commit_lsn::text AS lsn FROM ${sql.id(STATE_SCHEMA, 'watermarks')} WHERE source_id = ${SOURCE_ID}`.execute(receiver.db);
  return rows[0]?.lsn;
}

describe('COPY text encoding', () => {
  it('escapes backslash, newline, carriage return and tab, writes NULL as \\N, and cuts chunks between rows', () => {
    const rows = [{ a: 'x\ty\nz\r\\', b: null, c: '\\N' }, { a: '', b: 'ü😀\\', c: 'plain' }];
    const text = Buffer.concat([...copyTextChunks(rows, ['a', 'b', 'c'])]).toString('utf8');
    expect(text).toBe('x\\ty\\nz\\r\\\\\t\\N\t\\\\N\n\t' + 'ü😀\\\\\tplain\n');
    // Tiny chunks: a chunk per row, the same bytes.
    const small = [...copyTextChunks(rows, ['a', 'b', 'c'], 4)];
    expect(small.length).toBeGreaterThan(1);
    expect(Buffer.concat(small).toString('utf8')).toBe(text);
  });
});

describe('insert runs through COPY', () => {
  it('arrive byte-exact: the type matrix, and text full of what COPY escapes, across chunk boundaries', async () => {
    await source.query(`INSERT INTO "${SCHEMA}".types_matrix VALUES ${TYPE_MATRIX_ROWS.join(',\n')}`);
    await source.query(typeMatrixBigByteaInsert(SCHEMA, 4));
    // Enough rows for COPY: the three edge rows again under other ids.
    for (let copy = 1; copy <= 12; copy++) {
      await source.query(`INSERT INTO "${SCHEMA}".types_matrix SELECT id + ${copy * 10}, n, n_free, i8, i2, f8, f4, ts, tstz, d, tm, tmtz, iv, b, tx, vc, ch, j, jb, arr, tarr, grid, st, pos, pr, r, tsr, u, ip, net, bv, mac, pt, flag FROM "${SCHEMA}".types_matrix WHERE id <= 3`);
    }
    const matrix = await relationOf('types_matrix', ['id']);

    // Text COPY must escape, at chunk boundaries too (a value longer than a chunk), and the
    // literal text \N that must not become NULL.
    await source.query(`CREATE TABLE "${SCHEMA}".awkward (id integer PRIMARY KEY, t text, b bytea, a text[], j json, jb jsonb)`);
    await source.query(`
      INSERT INTO "${SCHEMA}".awkward
      SELECT g,
        CASE g % 8 WHEN 0 THEN E'tab\\there' WHEN 1 THEN E'new\\nline\\r\\n' WHEN 2 THEN E'back\\\\slash\\\\' WHEN 3 THEN '\\N'
                   WHEN 4 THEN '' WHEN 5 THEN NULL WHEN 6 THEN E'ünï \\u4e2d \\U0001F600' ELSE repeat(E'\\\\\\t\\nx', 30000) END,
        CASE WHEN g % 3 = 0 THEN NULL ELSE decode('005c0a0d09ff' || lpad(to_hex(g), 4, '0'), 'hex') END,
        ARRAY[E'a\\tb', E'quote"d', E'back\\\\slash', NULL, '', '\\N'],
        json_build_object('s', E'x\\ny\\t\\\\z', 'u', E'\\u00e9', 'n', NULL),
        jsonb_build_object('s', E'x\\ny\\t\\\\z', 'k', g)
      FROM generate_series(1, ${COPY_MIN_ROWS + 8}) g`);
    const awkward = await relationOf('awkward', ['id']);

    const matrixRows = await sourceRows(matrix);
    const awkwardRows = await sourceRows(awkward);
    expect(matrixRows.length).toBeGreaterThanOrEqual(COPY_MIN_ROWS);
    const batch = batchOf([matrix, awkward], [...inserts(matrixRows, 'types_matrix'), ...inserts(awkwardRows, 'awkward')], { sourceId: SOURCE_ID });
    expect(await post(batch)).toMatchObject({ status: 200, body: { status: 'applied' } });

    expect(await rowText('backup', 'types_matrix')).toEqual(await rowText('source', 'types_matrix'));
    expect(await rowText('backup', 'awkward')).toEqual(await rowText('source', 'awkward'));
    expect(await writers('types_matrix')).toEqual({ upsert: 0, copy: matrixRows.length });
    expect(await writers('awkward')).toEqual({ upsert: 0, copy: awkwardRows.length });
    const { rows: nulls } = await sql<{ literal: string; missing: string }>`
      SELECT count(*) FILTER (WHERE t = '\\N')::text AS literal, count(*) FILTER (WHERE t IS NULL)::text AS missing FROM "satellite/0".awkward`.execute(receiver.db);
    expect(nulls[0]).toEqual({ literal: '5', missing: '5' });
  });
});

describe('falling back to the upsert', () => {
  it('applies a batch whose rows are partly there already (rows changed since): same end state, watermark moved', async () => {
    const rows = Array.from({ length: 60 }, (_, index) => objectRow(index));
    // A first batch creates the table; then stale versions of rows 10-29 appear (as a replay
    // after a restore would find them), while the watermark stays behind the next batch.
    expect((await post(batchOf([OBJECTS], inserts([objectRow(1000)], 'objects'), { sourceId: SOURCE_ID }))).status).toBe(200);
    for (let index = 10; index < 30; index++) {
      await sql`INSERT INTO "satellite/0".objects (project_id, object_key, version, total_size, created_at, metadata)
        VALUES (${rows[index]!['project_id']}::uuid, decode(${rows[index]!['object_key']!.slice(2)}, 'hex'), 1, -1, now(), '{"stale": true}')`.execute(receiver.db);
    }
    const commitLsn = nextLsn();
    expect(await post(batchOf([OBJECTS], inserts(rows, 'objects'), { sourceId: SOURCE_ID, commitLsn }))).toMatchObject({ status: 200, body: { status: 'applied' } });

    expect(await objectsText()).toEqual([...rows, objectRow(1000)].map(objectText));
    expect(await watermark()).toBe(commitLsn);
    // Every row of this batch by the upsert (the COPY was rolled back to its savepoint).
    expect((await writers('objects')).upsert).toBe(60);
    // Sent again: a duplicate, nothing changes.
    expect(await post(batchOf([OBJECTS], inserts(rows, 'objects'), { sourceId: SOURCE_ID, commitLsn }))).toMatchObject({ status: 200, body: { status: 'duplicate' } });
  });

  it('keeps the other runs of the transaction, each applied once, when one run conflicts', async () => {
    await sql`TRUNCATE "satellite/0".objects`.execute(receiver.db);
    await sql`INSERT INTO "satellite/0".objects (project_id, object_key, version, total_size, created_at) VALUES ('0b5d3c1e-6f7a-4d2b-9c8e-1a2b3c4d5e6f', '\\x00000105', 1, -1, now())`.execute(receiver.db);
    const keyless = (from: number, count: number) => Array.from({ length: count }, (_, index) => ({ a: `row ${from + index}`, j: index % 2 === 0 ? '{"same": true}' : null }));
    const objects = (from: number, count: number) => Array.from({ length: count }, (_, index) => objectRow(from + index));
    // Runs: keyless COPY, keyless single DELETE, keyless COPY, objects COPY (conflicts on row
    // 0x105: falls back), objects DELETE, objects insert run (the table is known to conflict:
    // straight to the upsert).
    const events: Parameters<typeof batchOf>[1] = [
      ...inserts(keyless(0, 40), 'keyless'),
      { operation: 'DELETE' as const, data: null, old_data: { a: 'row 3', j: null }, unchanged_toast: [], table: 'keyless' },
      ...inserts(keyless(0, 40), 'keyless'),
      ...inserts(objects(0x100, 40), 'objects'),
      { operation: 'DELETE' as const, data: null, old_data: { project_id: '0b5d3c1e-6f7a-4d2b-9c8e-1a2b3c4d5e6f', object_key: '\\x00000100', version: '1' }, unchanged_toast: [], table: 'objects' },
      ...inserts(objects(0x200, 40), 'objects'),
    ];
    const commitLsn = nextLsn();
    expect(await post(batchOf([KEYLESS, OBJECTS], events, { sourceId: SOURCE_ID, commitLsn }))).toMatchObject({ status: 200, body: { status: 'applied' } });

    // Every keyless row exactly as often as applying the events one by one leaves it: twice,
    // and "row 3" once.
    const { rows: counts } = await sql<{ a: string; n: number }>`SELECT a, count(*)::int AS n FROM "satellite/0".keyless GROUP BY a`.execute(receiver.db);
    expect(counts).toHaveLength(40);
    expect(counts.every((row) => row.n === (row.a === 'row 3' ? 1 : 2))).toBe(true);
    expect(await writers('keyless')).toEqual({ upsert: 0, copy: 79 });
    expect(await objectsText()).toEqual([...objects(0x101, 39), ...objects(0x200, 40)].map(objectText));
    expect(await writers('objects')).toEqual({ upsert: 79, copy: 0 });
    expect(await watermark()).toBe(commitLsn);
  });
});

describe('a row the backup refuses in the middle of a long COPY', () => {
  it('applies nothing, moves no watermark, and the next batch applies', async () => {
    const before = await watermark();
    const rowsBefore = await tableText(receiver.db, SCHEMA, 'keyless');
    // Several chunks of data, the bad value early: PostgreSQL refuses it while we still send.
    const rows = Array.from({ length: 4000 }, (_, index) => ({ a: `long row ${index} ${'y'.repeat(100)}`, j: index === 50 ? '{not json' : '{}' }));
    const refused = await post(batchOf([KEYLESS], inserts(rows, 'keyless'), { sourceId: SOURCE_ID }));
    expect(refused).toMatchObject({ status: 422, body: { error: 'APPLY_REJECTED' } });
    expect(await watermark()).toBe(before);
    expect(await tableText(receiver.db, SCHEMA, 'keyless')).toEqual(rowsBefore);

    const commitLsn = nextLsn();
    rows[50]!.j = '{}';
    expect(await post(batchOf([KEYLESS], inserts(rows, 'keyless'), { sourceId: SOURCE_ID, commitLsn }))).toMatchObject({ status: 200, body: { status: 'applied' } });
    expect(await watermark()).toBe(commitLsn);
    const { rows: added } = await sql<{ n: number }>`SELECT count(*)::int AS n FROM "satellite/0".keyless WHERE a LIKE 'long row %'`.execute(receiver.db);
    expect(added[0]!.n).toBe(4000);
  });
});

describe('table copy chunks', () => {
  it('go through COPY too', async () => {
    const image = nextLsn();
    const rows = Array.from({ length: 50 }, (_, index) => objectRow(index));
    const batch = batchOf([OBJECTS], inserts(rows, 'objects'), { sourceId: SOURCE_ID, commitLsn: image });
    expect(await post({ ...batch, snapshot: { schema: SCHEMA, table: 'objects', image_lsn: image, index: 0, last: true } })).toMatchObject({ status: 200, body: { status: 'applied' } });
    expect(await tableText(receiver.db, SCHEMA, 'objects')).toHaveLength(50);
    const { rows: xmins } = await sql<{ copy: number }>`
      SELECT count(*) FILTER (WHERE o.xmin <> c.xmin)::int AS copy FROM "satellite/0".objects o, ${sql.id(STATE_SCHEMA, 'table_copies')} c
      WHERE c.source_id = ${SOURCE_ID} AND c.table_name = 'objects'`.execute(receiver.db);
    expect(xmins[0]!.copy).toBe(50);
  });
});
