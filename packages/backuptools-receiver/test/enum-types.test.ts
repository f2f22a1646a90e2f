import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from 'kysely';
import type { Relation } from '@storx-backup/protocol';
import { batchOf, signedRequest, tableText, type TestReceiver, testReceiver } from './support.js';

const LABELS = ['pending', "it's \\ fine", 'ünïcødé', 'committed'];
const relationOf = (table: string, type: string, labels = LABELS): Relation => ({
  schema: 'satellite/0',
  table,
  replica_identity: 'default',
  columns: [
    { name: 'id', type: 'integer', not_null: true },
    { name: 'status', type: `"satellite/0".${type}`, not_null: false },
    { name: 'history', type: `"satellite/0".${type}[]`, not_null: false },
  ],
  key_columns: ['id'],
  enum_types: [{ type: `"satellite/0".${type}`, schema: 'satellite/0', name: type, labels }],
});
const row = { id: '1', status: "it's \\ fine", history: '{pending,"it\'s \\\\ fine",committed}' };
const insert = { operation: 'INSERT' as const, data: row, old_data: null, unchanged_toast: [] };

let receiver: TestReceiver;
let strict: TestReceiver;
beforeAll(async () => {
  receiver = await testReceiver({ tables: ['created', 'relabelled', 'shadowed', 'manual', 'elsewhere', 'backuptools_state.inside'] });
  strict = await testReceiver({ databaseUrl: receiver.url, autoCreateTables: false, tables: ['manual'] });
});
afterAll(async () => {
  await strict.close();
  await receiver.close();
});

async function labels(type: string): Promise<string[]> {
  const { rows } = await sql<{ labels: string[] }>`SELECT array(SELECT enumlabel::text FROM pg_enum WHERE enumtypid = to_regtype(${`"satellite/0".${type}`}) ORDER BY enumsortorder) AS labels`.execute(receiver.db);
  return rows[0]!.labels;
}

async function tableExists(table: string): Promise<boolean> {
  const { rows } = await sql<{ t: string | null }>`SELECT to_regclass(${`"satellite/0".${table}`})::text AS t`.execute(receiver.db);
  return rows[0]!.t !== null;
}

describe('enum types on the backup', () => {
  it('creates a missing enum with the source labels in order (auto-create-tables), then the table that uses it', async () => {
    const response = await receiver.app.inject(await signedRequest(batchOf([relationOf('created', 'mood')], [insert]), receiver.keys));
    expect(response.statusCode, response.body).toBe(200);
    expect(await labels('mood')).toEqual(LABELS);
    expect(await tableText(receiver.db, 'satellite/0', 'created')).toEqual([`(1,"it's \\\\ fine","{pending,""it's \\\\\\\\ fine"",committed}")`]);
  });

  it('adds the labels the source gained (before, between and after the others), committed before the batch that uses them', async () => {
    await sql`CREATE TYPE "satellite/0".mood2 AS ENUM ('pending', 'committed')`.execute(receiver.db);
    const response = await receiver.app.inject(await signedRequest(batchOf([relationOf('relabelled', 'mood2', ['first', ...LABELS])], [insert]), receiver.keys));
    expect(response.statusCode, response.body).toBe(200);
    expect(await labels('mood2')).toEqual(['first', ...LABELS]);
    expect(await tableText(receiver.db, 'satellite/0', 'relabelled')).toEqual([`(1,"it's \\\\ fine","{pending,""it's \\\\\\\\ fine"",committed}")`]);
  });

  it('takes metadata with fewer labels than the backup (read before the source gained them) and changes no label', async () => {
    const response = await receiver.app.inject(await signedRequest(batchOf([relationOf('relabelled', 'mood2', ['pending', 'committed'])], [{ ...insert, data: { id: '2', status: 'pending', history: null } }]), receiver.keys));
    expect(response.statusCode, response.body).toBe(200);
    expect(await labels('mood2')).toEqual(['first', ...LABELS]);
  });

  it.each([
    ['renamed', ['first', 'pending', 'renamed', 'ünïcødé', 'committed']],
    ['reordered', ['first', 'pending', 'ünïcødé', "it's \\ fine", 'committed']],
  ])('422 naming both label lists when a label was %s on the source, and nothing is applied or altered', async (_how, source) => {
    const before = await tableText(receiver.db, 'satellite/0', 'relabelled');
    const response = await receiver.app.inject(await signedRequest(batchOf([relationOf('relabelled', 'mood2', source)], [{ ...insert, data: { id: '3', status: 'pending', history: null } }]), receiver.keys));
    expect(response.statusCode, response.body).toBe(422);
    expect(response.json()).toMatchObject({ error: 'TABLE_INCOMPATIBLE', message: expect.stringContaining('a label was renamed or removed, or their order differs') as string });
    expect(await labels('mood2')).toEqual(['first', ...LABELS]);
    expect(await tableText(receiver.db, 'satellite/0', 'relabelled')).toEqual(before);
  });

  it('422 when a type of that name is something else on the backup (a domain), naming what it is', async () => {
    await sql`CREATE DOMAIN "satellite/0".mood3 AS text`.execute(receiver.db);
    const response = await receiver.app.inject(await signedRequest(batchOf([relationOf('shadowed', 'mood3')], [insert]), receiver.keys));
    expect(response.statusCode, response.body).toBe(422);
    expect(response.json()).toMatchObject({ error: 'TABLE_INCOMPATIBLE', message: expect.stringContaining('is a domain on the backup but an enum on the source') as string });
    expect(await tableExists('shadowed')).toBe(false);
  });

  it('without auto-create-tables, 422 that gives the CREATE TYPE to run; a domain is never built and is named as such', async () => {
    const response = await strict.app.inject(await signedRequest(batchOf([relationOf('manual', 'mood4')], [insert]), strict.keys));
    expect(response.statusCode, response.body).toBe(422);
    expect(response.json()).toMatchObject({ message: expect.stringContaining(`CREATE TYPE "satellite/0"."mood4" AS ENUM (E'pending', E'it\\'s \\\\ fine'`) as string });
    expect(await labels('mood4')).toEqual([]);

    // Labels the source gained are not added either: the message gives the statements.
    await sql`CREATE TYPE "satellite/0".mood4 AS ENUM ('pending', 'committed')`.execute(receiver.db);
    const lacking = await strict.app.inject(await signedRequest(batchOf([relationOf('manual', 'mood4')], [insert]), strict.keys));
    expect(lacking.statusCode, lacking.body).toBe(422);
    expect(lacking.json()).toMatchObject({ message: expect.stringContaining(`auto-create-tables is off); add the source's new labels on the backup: ALTER TYPE "satellite/0"."mood4" ADD VALUE IF NOT EXISTS E'it\\'s \\\\ fine' AFTER E'pending'; ALTER TYPE "satellite/0"."mood4" ADD VALUE IF NOT EXISTS E'ünïcødé' AFTER E'it\\'s \\\\ fine'`) as string });
    expect(await labels('mood4')).toEqual(['pending', 'committed']);

    const domainColumn: Relation = { ...relationOf('manual', 'unused'), columns: [{ name: 'id', type: 'integer', not_null: true }, { name: 'd', type: '"satellite/0".positive', not_null: false }], enum_types: undefined };
    const { enum_types: _none, ...withoutEnums } = domainColumn;
    const refused = await receiver.app.inject(await signedRequest(batchOf([withoutEnums], [{ operation: 'INSERT', data: { id: '1', d: '5' }, old_data: null, unchanged_toast: [] }]), receiver.keys));
    expect(refused.statusCode, refused.body).toBe(422);
    expect(refused.json()).toMatchObject({ error: 'TABLE_INCOMPATIBLE', message: expect.stringContaining('never a domain, composite, range or base type') as string });
  });

  it.each([
    ['an existing schema other than the table\'s (public)', 'elsewhere', 'satellite/0', 'public'],
    ["the receiver's own state schema", 'elsewhere', 'satellite/0', 'backuptools_state'],
    ["a table in the receiver's own state schema", 'inside', 'backuptools_state', 'backuptools_state'],
  ])('422 for an enum to be created in %s, and no type or table is created', async (_what, table, tableSchema, enumSchema) => {
    const type = `stray_${table}_${enumSchema}`;
    const relation: Relation = {
      ...relationOf(table, type),
      schema: tableSchema,
      columns: [{ name: 'id', type: 'integer', not_null: true }, { name: 'status', type: `${enumSchema}.${type}`, not_null: false }],
      enum_types: [{ type: `${enumSchema}.${type}`, schema: enumSchema, name: type, labels: ['a', 'b'] }],
    };
    const response = await receiver.app.inject(await signedRequest(batchOf([relation], [{ ...insert, data: { id: '1', status: 'a' } }]), receiver.keys));
    expect(response.statusCode, response.body).toBe(422);
    expect(response.json()).toMatchObject({ error: 'TABLE_INCOMPATIBLE', message: expect.stringMatching(/creates enums only in the schema of the table|the receiver's own state schema/) as string });
    const { rows } = await sql<{ n: number }>`SELECT count(*)::int AS n FROM pg_type WHERE typname = ${type}`.execute(receiver.db);
    expect(rows[0]!.n).toBe(0);
    const { rows: tables } = await sql<{ t: string | null }>`SELECT to_regclass(format('%I.%I', ${tableSchema}::text, ${table}::text))::text AS t`.execute(receiver.db);
    expect(tables[0]!.t).toBeNull();
  });
});
