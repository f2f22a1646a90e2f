// Table copy chunks whose rows are COPY text (docs/protocol.md, "Copy chunks"): the source's
// `COPY ... TO STDOUT` bytes go untouched into the backup's `COPY ... FROM STDIN`. The type
// matrix arrives byte-exact through them; a table COPY cannot write into (row-level security)
// takes the same rows through the statements; a malformed or forged chunk is refused with
// nothing applied (rows, copy progress).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { sql } from 'kysely';
import type pg from 'pg';
import { to as copyTo } from 'pg-copy-streams';
import { generateKeyPairSync } from 'node:crypto';
import { type BatchHeader, type CopySection, RECEIVER_CAPABILITIES, type Relation, sealCopyChunkV3, signWebhook } from '@storx-backup/protocol';
import { connect, createDatabase, TYPE_MATRIX_ROWS, TYPE_MATRIX_SESSION_SETTINGS, typeMatrixBigByteaInsert, typeMatrixTableDdl, typeMatrixTypesDdl } from '@storx-backup/test-postgres';
import { batchOf, nextLsn, STATE_SCHEMA, tableText, type TestReceiver, testReceiver } from './support.js';

const SCHEMA = 'satellite/0';
const TYPES_DDL = [`CREATE SCHEMA "${SCHEMA}"`, ...typeMatrixTypesDdl(SCHEMA)];
const SETTINGS = TYPE_MATRIX_SESSION_SETTINGS;
const SOURCE_ID = 'copy-text';

let source: pg.Client;
let receiver: TestReceiver;

beforeAll(async () => {
  source = await connect(await createDatabase(inject('pgSourceUrl'), 'copytext'));
  for (const statement of [...SETTINGS, ...TYPES_DDL, typeMatrixTableDdl(SCHEMA)]) await source.query(statement);
  await source.query(`INSERT INTO "${SCHEMA}".types_matrix VALUES ${TYPE_MATRIX_ROWS.join(',\n')}`);
  await source.query(typeMatrixBigByteaInsert(SCHEMA, 4));
  receiver = await testReceiver({ bodyLimitBytes: 16 * 1024 * 1024, tables: ['types_matrix', 'guarded', 'plain'].map((table) => `${SCHEMA}.${table}`) });
  for (const statement of TYPES_DDL) await sql.raw(statement).execute(receiver.db);
});

afterAll(async () => {
  await source.end();
  await receiver.close();
});

async function relationFromSource(table: string): Promise<Relation> {
  const { rows } = await source.query<{ name: string; type: string; not_null: boolean }>(
    `SELECT attname AS name, format_type(atttypid, atttypmod) AS type, attnotnull AS not_null
     FROM pg_attribute WHERE attrelid = $1::regclass AND attnum > 0 AND NOT attisdropped AND attgenerated = '' ORDER BY attnum`,
    [`"${SCHEMA}".${table}`],
  );
  return { schema: SCHEMA, table, replica_identity: 'default', columns: rows, key_columns: ['id'] };
}

/** The source's own COPY text of `query` (what the replicator carries). */
async function copyText(query: string): Promise<Buffer> {
  const pieces: Buffer[] = [];
  for await (const piece of source.query(copyTo(`COPY (${query}) TO STDOUT`)) as AsyncIterable<Buffer>) pieces.push(piece);
  return Buffer.concat(pieces);
}

function header(relation: Relation, imageLsn: string, index: number, last: boolean): BatchHeader {
  const { events: _none, ...rest } = batchOf([relation], [], { sourceId: SOURCE_ID, commitLsn: imageLsn });
  return { ...rest, snapshot: { schema: relation.schema, table: relation.table, image_lsn: imageLsn, index, last } };
}

async function postCopy(batch: BatchHeader, copy: CopySection, signingKey = receiver.keys.signingKey): Promise<{ status: number; body: Record<string, unknown> }> {
  const sealed = sealCopyChunkV3(batch, copy, receiver.keys.recipient);
  const headers = signWebhook({ id: sealed.id, timestamp: Math.floor(Date.now() / 1000), body: sealed.body, signingKeys: [signingKey], scheme: 'v1d' });
  const response = await receiver.app.inject({ method: 'POST', url: '/webhook', headers: { ...headers, 'content-type': sealed.contentType }, payload: sealed.body });
  return { status: response.statusCode, body: response.json() };
}

const section = (relation: Relation, data: Buffer, rows: number): CopySection => ({ format: 'text', columns: relation.columns.map((column) => column.name), rows, data: [data] });

async function copyProgress(table: string): Promise<{ next_chunk: number; done: boolean; rows_copied: string } | undefined> {
  const { rows } = await sql<{ next_chunk: number; done: boolean; rows_copied: string }>`
    SELECT next_chunk, done, rows_copied::text FROM ${sql.id(STATE_SCHEMA, 'table_copies')} WHERE source_id = ${SOURCE_ID} AND table_name = ${table}`.execute(receiver.db);
  return rows[0];
}

async function sourceText(table: string): Promise<string[]> {
  const { rows } = await source.query<{ row: string }>(`SELECT t::text AS row FROM "${SCHEMA}".${table} t ORDER BY id`);
  return rows.map((row) => row.row);
}

describe('copy chunks as COPY text', () => {
  it('the receiver names them in its ping answer', () => {
    expect(RECEIVER_CAPABILITIES.copy).toEqual(['text']);
  });

  it('carry the type matrix byte-exact, in two chunks, and count the rows copied', async () => {
    const relation = await relationFromSource('types_matrix');
    const columns = relation.columns.map((column) => `"${column.name}"`).join(', ');
    const image = nextLsn();
    const first = await copyText(`SELECT ${columns} FROM "${SCHEMA}".types_matrix WHERE id <= 2 ORDER BY id`);
    const second = await copyText(`SELECT ${columns} FROM "${SCHEMA}".types_matrix WHERE id > 2 ORDER BY id`);
    expect(await postCopy(header(relation, image, 0, false), section(relation, first, 2))).toMatchObject({ status: 200, body: { status: 'applied' } });
    expect(await postCopy(header(relation, image, 1, true), section(relation, second, 2))).toMatchObject({ status: 200, body: { status: 'applied' } });
    // A chunk sent again is a duplicate: nothing twice.
    expect(await postCopy(header(relation, image, 1, true), section(relation, second, 2))).toMatchObject({ status: 200, body: { status: 'duplicate' } });

    for (const statement of SETTINGS) await sql.raw(statement).execute(receiver.db);
    expect(await tableText(receiver.db, SCHEMA, 'types_matrix', 'id')).toEqual(await sourceText('types_matrix'));
    expect(await copyProgress('types_matrix')).toEqual({ next_chunk: 2, done: true, rows_copied: '4' });
  });

  it('go through the statements into a table COPY cannot write into (row-level security), byte-exact', async () => {
    await source.query(`CREATE TABLE "${SCHEMA}".guarded (id integer PRIMARY KEY, note text, raw bytea, at timestamptz, gen integer GENERATED ALWAYS AS (id * 2) STORED)`);
    await source.query(`INSERT INTO "${SCHEMA}".guarded (id, note, raw, at) VALUES (1, E'tab\\there\\nnew line \\\\ back', '\\x00ff5c0a', '2025-01-02 03:04:05.123456+00'), (2, NULL, NULL, 'infinity'), (3, E'\\\\N', '\\x', NULL), (4, 'ünïcödé ✓', '\\x5c4e', '-infinity')`);
    const relation = await relationFromSource('guarded');
    expect(relation.columns.map((column) => column.name)).toEqual(['id', 'note', 'raw', 'at']);
    await sql.raw(`CREATE TABLE "${SCHEMA}".guarded (id integer PRIMARY KEY, note text, raw bytea, at timestamptz, gen integer GENERATED ALWAYS AS (id * 2) STORED)`).execute(receiver.db);
    await sql.raw(`ALTER TABLE "${SCHEMA}".guarded ENABLE ROW LEVEL SECURITY`).execute(receiver.db);
    const data = await copyText(`SELECT id, note, raw, at FROM "${SCHEMA}".guarded ORDER BY id`);
    expect(await postCopy(header(relation, nextLsn(), 0, true), section(relation, data, 4))).toMatchObject({ status: 200, body: { status: 'applied' } });
    for (const statement of SETTINGS) await sql.raw(statement).execute(receiver.db);
    expect(await tableText(receiver.db, SCHEMA, 'guarded', 'id')).toEqual(await sourceText('guarded'));
  });

  it('refuse a malformed or forged chunk with a clear code, applying nothing', async () => {
    await source.query(`CREATE TABLE "${SCHEMA}".plain (id integer PRIMARY KEY, note text)`);
    await source.query(`INSERT INTO "${SCHEMA}".plain SELECT g, 'row ' || g FROM generate_series(1, 5) g`);
    const relation = await relationFromSource('plain');
    const image = nextLsn();
    const first = await copyText(`SELECT id, note FROM "${SCHEMA}".plain WHERE id <= 3 ORDER BY id`);
    expect(await postCopy(header(relation, image, 0, false), section(relation, first, 3))).toMatchObject({ status: 200, body: { status: 'applied' } });
    const before = { rows: await tableText(receiver.db, SCHEMA, 'plain', 'id'), progress: await copyProgress('plain') };
    expect(before.rows).toHaveLength(3);

    const next = header(relation, image, 1, true);
    const good = Buffer.from('4\trow 4\n5\trow 5\n');
    const { privateKey: strangerKey } = generateKeyPairSync('ed25519');
    const expectRefused = async (what: string, answer: Promise<{ status: number; body: Record<string, unknown> }>, status: number, code: string): Promise<void> => {
      const { status: got, body } = await answer;
      expect({ what, status: got, error: body.error }).toEqual({ what, status, error: code });
      expect(await tableText(receiver.db, SCHEMA, 'plain', 'id'), what).toEqual(before.rows);
      expect(await copyProgress('plain'), what).toEqual(before.progress);
    };
    await expectRefused('columns not the relation', postCopy(next, { ...section(relation, good, 2), columns: ['note', 'id'] }), 422, 'COPY_DATA_INVALID');
    await expectRefused('fewer rows than declared', postCopy(next, section(relation, good, 3)), 422, 'COPY_DATA_INVALID');
    await expectRefused('more rows than declared', postCopy(next, section(relation, good, 1)), 422, 'COPY_DATA_INVALID');
    await expectRefused('no final newline', postCopy(next, section(relation, Buffer.from('4\trow 4\n5\trow 5'), 2)), 422, 'COPY_DATA_INVALID');
    await expectRefused('an end-of-data marker hiding a row', postCopy(next, section(relation, Buffer.from('4\trow 4\n\\.\n5\trow 5\n'), 3)), 422, 'COPY_DATA_INVALID');
    await expectRefused('a raw carriage return', postCopy(next, section(relation, Buffer.from('4\trow 4\r5\trow 5\n'), 1)), 422, 'COPY_DATA_INVALID');
    await expectRefused('a missing field', postCopy(next, section(relation, Buffer.from('4\trow 4\n5\n'), 2)), 422, 'COPY_DATA_INVALID');
    await expectRefused('an extra field', postCopy(next, section(relation, Buffer.from('4\trow 4\textra\n5\trow 5\n'), 2)), 422, 'COPY_DATA_INVALID');
    await expectRefused('a value the column cannot read', postCopy(next, section(relation, Buffer.from('four\trow 4\n5\trow 5\n'), 2)), 422, 'APPLY_REJECTED');
    await expectRefused('signed by a key the receiver does not trust', postCopy(next, section(relation, good, 2), strangerKey), 401, 'unauthorized');

    expect(await postCopy(next, section(relation, good, 2))).toMatchObject({ status: 200, body: { status: 'applied' } });
    expect(await tableText(receiver.db, SCHEMA, 'plain', 'id')).toEqual(await sourceText('plain'));
  });
});
