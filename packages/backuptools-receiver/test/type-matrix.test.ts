// Byte-exact values: every awkward type goes source → text → receiver → backup and comes out
// identical, compared as each row's full text on both sides.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { sql } from 'kysely';
import type pg from 'pg';
import type { Relation } from '@storx-backup/protocol';
import { connect, createDatabase, TYPE_MATRIX_ROWS, TYPE_MATRIX_SESSION_SETTINGS, typeMatrixBigByteaInsert, typeMatrixTableDdl, typeMatrixTypesDdl } from '@storx-backup/test-postgres';
import { batchOf, signedRequest, tableText, type TestReceiver, testReceiver } from './support.js';

const SCHEMA = 'satellite/0';
const TYPES_DDL = [`CREATE SCHEMA "${SCHEMA}"`, ...typeMatrixTypesDdl(SCHEMA)];
const SETTINGS = TYPE_MATRIX_SESSION_SETTINGS;

let source: pg.Client;
let receiver: TestReceiver;

beforeAll(async () => {
  source = await connect(await createDatabase(inject('pgSourceUrl'), 'types'));
  for (const statement of [...SETTINGS, ...TYPES_DDL, typeMatrixTableDdl(SCHEMA)]) await source.query(statement);
  await source.query(`INSERT INTO "${SCHEMA}".types_matrix VALUES ${TYPE_MATRIX_ROWS.join(',\n')}`);
  await source.query(typeMatrixBigByteaInsert(SCHEMA, 4));

  receiver = await testReceiver({ bodyLimitBytes: 16 * 1024 * 1024 });
  for (const statement of TYPES_DDL) await sql.raw(statement).execute(receiver.db);
});

afterAll(async () => {
  await source.end();
  await receiver.close();
});

async function relationFromSource(table: string): Promise<Relation> {
  const { rows } = await source.query<{ name: string; type: string; not_null: boolean }>(
    `SELECT attname AS name, format_type(atttypid, atttypmod) AS type, attnotnull AS not_null
     FROM pg_attribute WHERE attrelid = $1::regclass AND attnum > 0 AND NOT attisdropped ORDER BY attnum`,
    [`"${SCHEMA}".${table}`],
  );
  return { schema: SCHEMA, table, replica_identity: 'default', columns: rows, key_columns: ['id'] };
}

/** Each row's values exactly as PostgreSQL prints them: what the replicator sends. */
async function rowsAsText(relation: Relation): Promise<Record<string, string | null>[]> {
  const select = relation.columns.map((column) => `${JSON.stringify(column.name)}::text`).join(', ');
  const { rows } = await source.query<Record<string, string | null>>(`SELECT ${select} FROM "${SCHEMA}".${relation.table} ORDER BY id`);
  return rows;
}

describe('type matrix', () => {
  it('arrives byte-exact: every row of the backup prints exactly as on the source', async () => {
    const relation = await relationFromSource('types_matrix');
    const rows = await rowsAsText(relation);
    expect(rows).toHaveLength(4);
    const batch = batchOf([relation], rows.map((data) => ({ operation: 'INSERT' as const, data, old_data: null, unchanged_toast: [] })));
    const response = await receiver.app.inject(await signedRequest(batch, receiver.keys));
    expect(response.statusCode, response.body).toBe(200);

    for (const statement of SETTINGS) await sql.raw(statement).execute(receiver.db);
    const { rows: sourceRows } = await source.query<{ row: string }>(`SELECT t::text AS row FROM "${SCHEMA}".types_matrix t ORDER BY id`);
    const backupRows = await tableText(receiver.db, SCHEMA, 'types_matrix', 'id');
    expect(backupRows).toEqual(sourceRows.map((row) => row.row));

    // The spots where a JS round trip would have lost something, checked one by one.
    const { rows: spots } = await sql<Record<string, string | null>>`
      SELECT n::text, i8::text, tstz::text, j::text, jb::text, (j IS NULL)::text AS j_is_null, length(b)::text AS b_len, md5(b) AS b_md5
      FROM "satellite/0".types_matrix ORDER BY id`.execute(receiver.db);
    expect(spots[0]).toMatchObject({ n: '99999999999999999999999999.9999999999', i8: '9223372036854775807', tstz: '2025-12-06 04:50:00.123456+00', j: '{"b": 1,  "a": [1, 2.50], "a": "dup"}' });
    expect(spots[1]).toMatchObject({ j: 'null', jb: 'null', j_is_null: 'false' });
    expect(spots[2]).toMatchObject({ j: null, j_is_null: 'true' });
    const { rows: big } = await source.query<{ b_md5: string }>(`SELECT md5(b) AS b_md5 FROM "${SCHEMA}".types_matrix WHERE id = 4`);
    expect(spots[3]).toMatchObject({ b_len: String(1024 * 1024), b_md5: big[0]!.b_md5 });
  });

  it('creates the table with the source types, NOT NULL and primary key', async () => {
    const { rows } = await sql<{ definition: string }>`
      SELECT string_agg(format('%s %s %s', attname, format_type(atttypid, atttypmod), attnotnull), ', ' ORDER BY attnum) AS definition
      FROM pg_attribute WHERE attrelid = '"satellite/0".types_matrix'::regclass AND attnum > 0`.execute(receiver.db);
    const { rows: expected } = await source.query<{ definition: string }>(`
      SELECT string_agg(format('%s %s %s', attname, format_type(atttypid, atttypmod), attnotnull), ', ' ORDER BY attnum) AS definition
      FROM pg_attribute WHERE attrelid = '"satellite/0".types_matrix'::regclass AND attnum > 0`);
    expect(rows[0]!.definition).toBe(expected[0]!.definition);
    const { rows: key } = await sql<{ key: string }>`SELECT pg_get_constraintdef(oid) AS key FROM pg_constraint WHERE conrelid = '"satellite/0".types_matrix'::regclass AND contype = 'p'`.execute(receiver.db);
    expect(key[0]!.key).toBe('PRIMARY KEY (id)');
  });

  it('refuses (422) a type the backup does not have, naming it and saying what to do', async () => {
    const relation: Relation = { schema: SCHEMA, table: 'types_matrix', replica_identity: 'default', columns: [{ name: 'id', type: 'integer', not_null: true }, { name: 'mood', type: `"${SCHEMA}".mood`, not_null: false }], key_columns: ['id'] };
    const response = await receiver.app.inject(await signedRequest(batchOf([relation], [{ operation: 'INSERT', data: { id: '9', mood: 'happy' }, old_data: null, unchanged_toast: [] }]), receiver.keys));
    expect(response.statusCode).toBe(422);
    expect(response.json()).toMatchObject({ error: 'TABLE_INCOMPATIBLE', message: expect.stringContaining('does not exist on the backup database; create it there first') as string });
  });
});
