// The receiver resolves every column type by name on the backup, so a user-defined type must
// travel schema-qualified even when the source URL puts its schema on the search_path, however
// many lookups run at once; nullability comes from the catalog alone.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import type pg from 'pg';
import { createLogger } from '@storx-backup/service-kit';
import { connect, createDatabase } from '@storx-backup/test-postgres';
import { UserTypedValues } from '../src/batch/user-typed-values.js';
import type { DecodedRelation } from '../src/decode/transaction-assembler.js';
import { arrayElements } from '../src/deliver/enum-values.js';
import { RelationMetadata } from '../src/deliver/relation-metadata.js';
import { type CatalogQuery, SourceCatalog } from '../src/source/source-catalog.js';

let client: pg.Client;
let url: string;
let catalog: SourceCatalog;
beforeAll(async () => {
  const withPath = new URL(await createDatabase(inject('pgSourceUrl'), 'relmeta'));
  // The seed's own setup: the application's schema first on the search_path.
  withPath.searchParams.set('options', '--search_path="app/1"');
  url = withPath.toString();
  client = await connect(url);
  await client.query('CREATE SCHEMA "app/1"');
  await client.query(`CREATE TYPE "app/1".mood AS ENUM ('ok', 'it''s \\ fine', 'ünïcødé')`);
  await client.query('CREATE TABLE "app/1".t (id integer PRIMARY KEY, m mood, ms mood[], v varchar(7))');
  await client.query(`CREATE TYPE "app/1".grows AS ENUM ('b')`);
  await client.query('CREATE TABLE "app/1".growing (id integer PRIMARY KEY, g grows, gs grows[])');
  await client.query('CREATE TABLE "app/1".history (a integer, b text NOT NULL, c timestamp)');
  await client.query('ALTER TABLE "app/1".history REPLICA IDENTITY FULL');
  catalog = new SourceCatalog(url, createLogger({ name: 'relmeta-test', level: 'silent' }));
});
afterAll(async () => {
  await catalog.close();
  await client.end();
});

async function described(table: string, identity: DecodedRelation['replicaIdentity'], keys: string[]): Promise<DecodedRelation> {
  const { rows } = await client.query<{ oid: number; name: string; type_oid: number; mod: number }>(
    `SELECT $1::regclass::oid::integer AS oid, attname AS name, atttypid::integer AS type_oid, atttypmod AS mod
     FROM pg_attribute WHERE attrelid = $1::regclass AND attnum > 0 AND NOT attisdropped ORDER BY attnum`,
    [`"app/1".${table}`],
  );
  return { relationId: rows[0]!.oid, schema: 'app/1', table, replicaIdentity: identity, columns: rows.map((row) => ({ isKey: identity === 'f' || keys.includes(row.name), name: row.name, typeOid: row.type_oid, typeMod: row.mod })) };
}

describe('relation metadata', () => {
  it('names user-defined types with their schema although it is on the search_path, and sends the enum labels in order', async () => {
    const relation = await new RelationMetadata(catalog).resolve(await described('t', 'd', ['id']));
    expect(relation.columns.map((column) => column.type)).toEqual(['integer', '"app/1".mood', '"app/1".mood[]', 'character varying(7)']);
    expect(relation.enum_types).toEqual([{ type: '"app/1".mood', schema: 'app/1', name: 'mood', labels: ['ok', "it's \\ fine", 'ünïcødé'] }]);
    const { rows: path } = await client.query<{ path: string }>("SELECT current_setting('search_path') AS path");
    expect(path[0]!.path, 'other sessions keep their search_path').toBe('"app/1"');
  });

  it('stays right under concurrent lookups of many relations, with other queries interleaved', async () => {
    const base = await described('t', 'd', ['id']);
    // Distinct descriptions (no cache hit), all in flight at once on one catalog.
    const lookups = Array.from({ length: 60 }, (_, index) => new RelationMetadata(catalog).resolve({ ...base, relationId: base.relationId, columns: base.columns.map((column) => (column.name === 'v' ? { ...column, name: `v${index}` } : column)) }));
    const others = Array.from({ length: 20 }, () => client.query('SELECT pg_sleep(0.001)'));
    const relations = await Promise.all(lookups);
    await Promise.all(others);
    for (const relation of relations) expect(relation.columns[1]!.type).toBe('"app/1".mood');
  });

  it('shares a lookup in flight, and never caches a lookup that ran under another search_path', async () => {
    let queries = 0;
    let wrongPath = true;
    const counting: CatalogQuery = {
      query: async <R extends pg.QueryResultRow>(text: string, values: readonly unknown[]): Promise<R[]> => {
        queries += 1;
        // The first lookup runs where the application's schema is on the search_path.
        if (wrongPath) return (await client.query<R>(text, values as unknown[])).rows;
        return catalog.query<R>(text, values);
      },
    };
    const metadata = new RelationMetadata(counting);
    const relation = await described('t', 'd', ['id']);
    await expect(Promise.all([metadata.resolve(relation), metadata.resolve(relation)])).rejects.toThrow(/search_path/);
    expect(queries, 'both callers shared one lookup').toBe(1);
    wrongPath = false;
    const [first, second] = await Promise.all([metadata.resolve(relation), metadata.resolve(relation)]);
    expect(queries).toBe(2);
    expect(first).toBe(second);
    expect(first.columns[1]!.type).toBe('"app/1".mood');
  });

  it('takes NOT NULL from the catalog alone: REPLICA IDENTITY FULL flags every column, but only b is NOT NULL', async () => {
    const relation = await new RelationMetadata(catalog).resolve(await described('history', 'f', []));
    expect(relation.columns.map((column) => [column.name, column.not_null])).toEqual([['a', false], ['b', true], ['c', false]]);
    expect(relation.key_columns).toEqual([]);
    expect(relation.enum_types).toBeUndefined();
  });

  it('looks the labels up again when an event holds a value the cached ones lack (ALTER TYPE ... ADD VALUE changes no relation description)', async () => {
    const metadata = new RelationMetadata(catalog);
    const decoded = await described('growing', 'd', ['id']);
    const cached = await metadata.resolve(decoded);
    expect(cached.enum_types![0]!.labels).toEqual(['b']);
    await client.query(`ALTER TYPE grows ADD VALUE 'a' BEFORE 'b'`);
    await client.query(`ALTER TYPE grows ADD VALUE 'c, "d"'`);
    // The values an event with this row adds to its batch (what the assembler records).
    const event = (data: Record<string, string | null>): UserTypedValues => {
      const values = new UserTypedValues();
      decoded.columns.forEach((column, index) => {
        const value = data[column.name];
        if (typeof value === 'string' && column.typeOid >= 16384) values.record(decoded.relationId, index, value);
      });
      return values;
    };
    const [known] = await metadata.resolveFor([decoded], event({ id: '1', g: 'b', gs: '{b,NULL}' }));
    expect(known, 'every value is a cached label: the cache answers').toBe(cached);
    const [scalar] = await metadata.resolveFor([decoded], event({ id: '1', g: 'a', gs: null }));
    expect(scalar!.enum_types![0]!.labels).toEqual(['a', 'b', 'c, "d"']);

    const again = new RelationMetadata(catalog);
    await again.resolve(await described('growing', 'd', ['id']));
    await client.query(`ALTER TYPE grows ADD VALUE 'e'`);
    const { rows } = await client.query<{ gs: string }>(`SELECT ARRAY[ARRAY['a', 'c, "d"'], ARRAY['e', NULL]]::grows[]::text AS gs`);
    const [inArray] = await again.resolveFor([decoded], event({ id: '1', g: 'b', gs: rows[0]!.gs }));
    expect(inArray!.enum_types![0]!.labels).toEqual(['a', 'b', 'c, "d"', 'e']);
  });

  it("splits arrays as PostgreSQL prints them (quotes, escapes, NULL, nesting, bounds)", async () => {
    const values = ['plain', 'with space', 'NULL', '', 'quote " and \\ backslash', '{braces}', 'comma,here', 'ünï'];
    const { rows } = await client.query<{ flat: string; nested: string; bounded: string }>(
      `SELECT $1::text[]::text AS flat, ARRAY[ARRAY['a', NULL], ARRAY['"', 'b']]::text AS nested, '[0:1]={x,"y z"}'::text[]::text AS bounded`,
      [[...values, null]],
    );
    expect(arrayElements(rows[0]!.flat)).toEqual([...values, null]);
    expect(arrayElements(rows[0]!.nested)).toEqual(['a', null, '"', 'b']);
    expect(rows[0]!.bounded).toBe('[0:1]={x,"y z"}');
    expect(arrayElements(rows[0]!.bounded)).toEqual(['x', 'y z']);
    expect(arrayElements('{}')).toEqual([]);
  });
});
