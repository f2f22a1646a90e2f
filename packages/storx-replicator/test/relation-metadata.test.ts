// The receiver resolves every column type by name on the backup, so a user-defined type must
// travel schema-qualified even when the source URL puts its schema on the search_path.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import type pg from 'pg';
import { connect, createDatabase } from '@storx-backup/test-postgres';
import { RelationMetadata } from '../src/deliver/relation-metadata.js';

let client: pg.Client;
beforeAll(async () => {
  const url = new URL(await createDatabase(inject('pgSourceUrl'), 'relmeta'));
  url.searchParams.set('options', '--search_path="app/1"');
  client = await connect(url.toString());
  await client.query('CREATE SCHEMA "app/1"');
  await client.query(`CREATE TYPE "app/1".mood AS ENUM ('ok')`);
  await client.query('CREATE TABLE "app/1".t (id integer PRIMARY KEY, m mood, v varchar(7))');
});
afterAll(async () => {
  await client.end();
});

describe('relation metadata', () => {
  it('names user-defined types with their schema although it is on the search_path', async () => {
    const { rows } = await client.query<{ oid: number; name: string; type_oid: number; mod: number }>(
      `SELECT 't'::regclass::oid::integer AS oid, attname AS name, atttypid::integer AS type_oid, atttypmod AS mod
       FROM pg_attribute WHERE attrelid = 't'::regclass AND attnum > 0 ORDER BY attnum`,
    );
    const metadata = new RelationMetadata(() => Promise.resolve(client));
    const relation = await metadata.resolve({
      relationId: rows[0]!.oid,
      schema: 'app/1',
      table: 't',
      replicaIdentity: 'd',
      columns: rows.map((row) => ({ isKey: row.name === 'id', name: row.name, typeOid: row.type_oid, typeMod: row.mod })),
    });
    expect(relation.columns.map((column) => column.type)).toEqual(['integer', '"app/1".mood', 'character varying(7)']);
    const { rows: path } = await client.query<{ path: string }>("SELECT current_setting('search_path') AS path");
    expect(path[0]!.path, 'the session keeps its search_path').toBe('"app/1"');
  });
});
