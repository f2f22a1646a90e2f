// A signed sender may write only the schema-qualified tables the receiver is configured for:
// anything else is refused before any DDL, no schema the configuration does not name is ever
// created, and a relation without events creates nothing.
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Relation } from '@storx-backup/protocol';
import { ConfigError } from '@storx-backup/service-kit';
import { loadReceiverConfig, parseAllowedTable } from '../src/config.js';
import { refusedName } from '../src/schema/refused-names.js';
import { batchOf, OBJECTS, objectRow, signedRequest, STATE_SCHEMA, type TestReceiver, testReceiver } from './support.js';

let receiver: TestReceiver;
beforeAll(async () => {
  receiver = await testReceiver({ bodyLimitBytes: 4 * 1024 * 1024, tables: ['satellite/0.objects', 'satellite/0.segments'] });
});
afterAll(async () => {
  await receiver?.close();
});

/** Every schema and table outside the system ones, every row of objects, and the watermarks. */
async function backupState(): Promise<string> {
  const relations = await sql<{ name: string }>`
    SELECT n.nspname || '.' || coalesce(c.relname, '') AS name FROM pg_namespace n LEFT JOIN pg_class c ON c.relnamespace = n.oid AND c.relkind = 'r'
    WHERE n.nspname NOT LIKE 'pg\\_%' AND n.nspname <> 'information_schema' ORDER BY 1`.execute(receiver.db);
  const objects = relations.rows.some((row) => row.name === 'satellite/0.objects') ? (await sql<{ row: string }>`SELECT t::text AS row FROM "satellite/0".objects t ORDER BY 1`.execute(receiver.db)).rows : [];
  const watermarks = await sql<{ w: string }>`SELECT w::text FROM ${sql.id(STATE_SCHEMA, 'watermarks')} AS w ORDER BY 1`.execute(receiver.db);
  return JSON.stringify({ relations: relations.rows, objects, watermarks: watermarks.rows });
}

function objectsIn(schema: string, table = 'objects'): Relation {
  return { ...OBJECTS, schema, table };
}

async function expectRefused(relations: Relation[], eventTable: { schema: string; table: string }, code: string, messagePattern?: RegExp): Promise<void> {
  const before = await backupState();
  const batch = batchOf(relations, [{ operation: 'INSERT', data: objectRow(1), old_data: null, unchanged_toast: [], ...eventTable }]);
  const response = await receiver.app.inject(await signedRequest(batch, receiver.keys));
  expect(response.statusCode, response.body).toBe(422);
  expect(response.json()).toMatchObject({ error: code });
  if (messagePattern) expect(response.json<{ message: string }>().message).toMatch(messagePattern);
  expect(await backupState()).toBe(before);
}

describe('the table allowlist is schema-qualified', () => {
  it.each([
    ['the same table name in public', 'public'],
    ["the receiver's own state schema", STATE_SCHEMA],
    ['a schema named postgres', 'postgres'],
    ['a schema named backuptools', 'backuptools'],
    ['"$user", which shadows the search path', '$user'],
    ['a look-alike with U+2215 DIVISION SLASH', 'satellite\u22150'],
    ['a look-alike with a zero-width space', 'satellite/0\u200b'],
    ['a look-alike with a right-to-left override', '\u202esatellite/0'],
  ])('refuses %s (422 TABLE_NOT_ALLOWED), creating nothing', async (_name, schema) => {
    await expectRefused([objectsIn(schema)], { schema, table: 'objects' }, 'TABLE_NOT_ALLOWED');
  });

  it('shows invisible and look-alike characters as escapes in the message', async () => {
    await expectRefused([objectsIn('satellite\u22150')], { schema: 'satellite\u22150', table: 'objects' }, 'TABLE_NOT_ALLOWED', /satellite\\u22150/);
  });

  it('refuses a batch of 2,500 relations in 2,500 schemas before any DDL', async () => {
    const relations = Array.from({ length: 2500 }, (_, index) => objectsIn(`flood_${index}`));
    await expectRefused([OBJECTS, ...relations], { schema: 'satellite/0', table: 'objects' }, 'TABLE_NOT_ALLOWED');
  });

  it('refuses an event on a table the batch does not describe, even when its relations are all allowed', async () => {
    await expectRefused([OBJECTS], { schema: 'public', table: 'objects' }, 'PAYLOAD_INVALID');
  });

  it('refuses two descriptions of one table in one batch (PAYLOAD_INVALID)', async () => {
    await expectRefused([OBJECTS, { ...OBJECTS, columns: OBJECTS.columns.slice(0, 3) }], { schema: 'satellite/0', table: 'objects' }, 'PAYLOAD_INVALID');
  });

  it('applies an allowed table, and does not create an allowed table that the batch describes but has no events for', async () => {
    const segments: Relation = { schema: 'satellite/0', table: 'segments', replica_identity: 'default', columns: [{ name: 'id', type: 'bigint', not_null: true }], key_columns: ['id'] };
    const batch = batchOf([OBJECTS, segments], [{ operation: 'INSERT', data: objectRow(7), old_data: null, unchanged_toast: [] }]);
    const response = await receiver.app.inject(await signedRequest(batch, receiver.keys));
    expect(response.statusCode, response.body).toBe(200);
    const state = JSON.parse(await backupState()) as { relations: { name: string }[]; objects: unknown[] };
    expect(state.objects).toHaveLength(1);
    expect(state.relations.map((row) => row.name)).toContain('satellite/0.objects');
    expect(state.relations.map((row) => row.name)).not.toContain('satellite/0.segments');
  });
});

describe('tables configuration', () => {
  const base = { 'database-url': 'postgres://u@h/db', 'private-keys': 'k.pem', 'trusted-sender-keys': 's.pem' };
  const load = (options: Record<string, string>) => loadReceiverConfig({ env: {}, flags: new Map(Object.entries({ ...base, ...options })), configFile: undefined });

  it('a bare name means default-schema (satellite/0 unless set), a qualified one its own schema', () => {
    expect(parseAllowedTable('objects', 'satellite/0')).toEqual({ schema: 'satellite/0', table: 'objects' });
    expect(parseAllowedTable('public.objects', 'satellite/0')).toEqual({ schema: 'public', table: 'objects' });
    expect(load({}).tables).toEqual([{ schema: 'satellite/0', table: 'objects' }, { schema: 'satellite/0', table: 'segments' }]);
    expect(load({ 'default-schema': 'public', tables: 'objects' }).tables).toEqual([{ schema: 'public', table: 'objects' }]);
  });

  it.each([
    ['$user.objects', 'starts with "$"'],
    ['pg_catalog.objects', 'system schema'],
    ['information_schema.objects', 'system schema'],
    ['satellite/0\u200b.objects', 'invisible format character'],
    ['\u202esatellite/0.objects', 'invisible format character'],
    ['backuptools_state.objects', 'state-schema'],
  ])('refuses %s at start', (entry, why) => {
    expect(() => load({ tables: entry })).toThrow(ConfigError);
    expect(() => load({ tables: entry })).toThrow(why);
  });

  it('refuses a schema mapping into the state schema', () => {
    expect(() => load({ tables: 'satellite/0.objects', 'schema-mapping': 'satellite/0=backuptools_state' })).toThrow('state-schema');
  });

  it('names in a table position may start with pg_ (only schemas are system names)', () => {
    expect(refusedName('pgbench_history', 'table')).toBeUndefined();
    expect(refusedName('pg_history', 'table')).toBeUndefined();
    expect(refusedName('pg_temp', 'schema')).toBe('names a system schema');
  });
});
