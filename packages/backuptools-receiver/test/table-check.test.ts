import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from 'kysely';
import pg from 'pg';
import type { Relation } from '@storx-backup/protocol';
import { catalogSnapshot } from '@storx-backup/test-postgres';
import { batchOf, OBJECTS, signedRequest, type TestReceiver, testReceiver } from './support.js';

/** A relation of `satellite/0` with an integer key and the given extra columns. */
const relationOf = (table: string, columns: { name: string; type: string }[], extra: Partial<Relation> = {}): Relation => ({
  schema: 'satellite/0',
  table,
  replica_identity: 'default',
  columns: [{ name: 'id', type: 'bigint', not_null: true }, ...columns.map((column) => ({ ...column, not_null: false }))],
  key_columns: ['id'],
  ...extra,
});

const MOOD = { type: '"satellite/0".mood', schema: 'satellite/0', name: 'mood', labels: ['calm', 'busy'] };

let receiver: TestReceiver;
let strict: TestReceiver;
let backup: pg.Client;
beforeAll(async () => {
  receiver = await testReceiver({ tables: ['objects', 'typed', 'domained', 'mismatched', 'moody', 'keyed', 'nullkeyed'] });
  strict = await testReceiver({ databaseUrl: receiver.url, autoCreateTables: false, tables: ['objects', 'moody', 'elsewhere.lost'] });
  backup = new pg.Client({ connectionString: receiver.url });
  await backup.connect();
  // What an operator made by hand on the backup before replication: one table whose column
  // type differs from the source's, one keyed differently.
  await backup.query('CREATE SCHEMA IF NOT EXISTS "satellite/0"');
  await backup.query('CREATE TABLE "satellite/0".mismatched (id bigint PRIMARY KEY, total integer)');
  await backup.query('CREATE TABLE "satellite/0".keyed (id bigint, other bigint PRIMARY KEY)');
  await backup.query('CREATE TABLE "satellite/0".nullkeyed (id bigint UNIQUE)');
});
afterAll(async () => {
  await backup.end();
  await strict.close();
  await receiver.close();
});

/** Sends a checking ping (a ping that carries relations) and returns the reply. */
async function ask(target: TestReceiver, relations: Relation[]): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await target.app.inject(await signedRequest(batchOf(relations, []), target.keys));
  return { status: response.statusCode, body: response.json() };
}

describe('a ping carrying relations: could the receiver take each table?', () => {
  it('answers ok for tables it could create or already matches (enums created on the fly), and changes nothing on the backup', async () => {
    const before = await catalogSnapshot(backup);
    const { status, body } = await ask(receiver, [OBJECTS, relationOf('moody', [{ name: 'state', type: '"satellite/0".mood' }], { enum_types: [MOOD] }), relationOf('mismatched', [{ name: 'total', type: 'integer' }])]);
    expect(status).toBe(200);
    expect(body).toMatchObject({ status: 'ping', watermark: null, refusal: null });
    expect(body['table_checks']).toEqual([
      { schema: 'satellite/0', table: 'objects', ok: true, problems: [] },
      { schema: 'satellite/0', table: 'moody', ok: true, problems: [] },
      { schema: 'satellite/0', table: 'mismatched', ok: true, problems: [] },
    ]);
    // The tables and the enum were created only inside a transaction that was rolled back.
    expect(await catalogSnapshot(backup)).toEqual(before);
  });

  it('names every type the backup lacks (domain, composite, extension type, in a missing schema), each with the type for the sender to print its DDL', async () => {
    const before = await catalogSnapshot(backup);
    const { status, body } = await ask(receiver, [
      relationOf('typed', [
        { name: 'email', type: '"satellite/0".email' },
        { name: 'emails', type: '"satellite/0".email[]' },
        { name: 'place', type: '"satellite/0".point3' },
        { name: 'name', type: 'public.citext' },
        { name: 'elsewhere', type: 'nowhere.thing' },
        { name: 'fine', type: 'numeric(38,10)' },
      ]),
    ]);
    expect(status).toBe(200);
    const [check] = body['table_checks'] as { ok: boolean; problems: { code: string; message: string; missing_type?: string }[] }[];
    expect(check!.ok).toBe(false);
    expect(check!.problems.map((problem) => [problem.code, problem.missing_type])).toEqual([
      ['TABLE_INCOMPATIBLE', '"satellite/0".email'],
      ['TABLE_INCOMPATIBLE', '"satellite/0".point3'],
      ['TABLE_INCOMPATIBLE', 'public.citext'],
      ['TABLE_INCOMPATIBLE', 'nowhere.thing'],
    ]);
    expect(check!.problems[0]!.message).toBe('type "satellite/0".email (column "email") does not exist on the backup database');
    expect(await catalogSnapshot(backup)).toEqual(before);
  });

  it('passes once the types exist on the backup (a domain over an extension type too)', async () => {
    await backup.query('CREATE EXTENSION IF NOT EXISTS citext WITH SCHEMA public');
    await backup.query('CREATE DOMAIN "satellite/0".email AS public.citext CHECK (VALUE LIKE \'%@%\')');
    const { body } = await ask(receiver, [relationOf('domained', [{ name: 'email', type: '"satellite/0".email' }, { name: 'emails', type: '"satellite/0".email[]' }, { name: 'name', type: 'public.citext' }])]);
    expect(body['table_checks']).toEqual([{ schema: 'satellite/0', table: 'domained', ok: true, problems: [] }]);
  });

  it('refuses, per table, what the first batch would be refused for: a column type or key that differs, a table outside the allowlist', async () => {
    const before = await catalogSnapshot(backup);
    const { status, body } = await ask(receiver, [relationOf('mismatched', [{ name: 'total', type: 'numeric(38,10)' }]), relationOf('keyed', [{ name: 'other', type: 'bigint' }]), relationOf('secret', [])]);
    expect(status, JSON.stringify(body)).toBe(200);
    const checks = body['table_checks'] as { table: string; ok: boolean; problems: { code: string; message: string; fix: string }[] }[];
    expect(checks.map((check) => [check.table, check.ok, check.problems.map((problem) => problem.code)])).toEqual([
      ['mismatched', false, ['TABLE_INCOMPATIBLE']],
      ['keyed', false, ['TABLE_INCOMPATIBLE']],
      ['secret', false, ['TABLE_NOT_ALLOWED']],
    ]);
    expect(checks[0]!.problems[0]!.message).toContain('column "total" is integer on the backup but numeric(38,10) on the source');
    expect(checks[1]!.problems[0]!.message).toContain('is keyed by ("other") but the source is keyed by ("id")');
    expect(checks[2]!.problems[0]!.fix).toContain("add the table to the receiver's tables");
    expect(await catalogSnapshot(backup)).toEqual(before);
  });

  it('refuses a backup table whose only unique index is on a nullable column for a keyed source (a NULL matches nothing: no key)', async () => {
    const { body } = await ask(receiver, [relationOf('nullkeyed', [])]);
    const checks = body['table_checks'] as { table: string; ok: boolean; problems: { code: string; message: string }[] }[];
    expect(checks.map((check) => [check.table, check.ok, check.problems.map((problem) => problem.code)])).toEqual([['nullkeyed', false, ['TABLE_INCOMPATIBLE']]]);
    expect(checks[0]!.problems[0]!.message).toContain('has no primary key or unique index on NOT NULL columns but the source is keyed by ("id")');
  });

  it('without auto-create-tables: a missing table, a missing schema and a missing enum are named with what to create', async () => {
    const before = await catalogSnapshot(backup);
    const lost: Relation = { ...relationOf('lost', []), schema: 'elsewhere' };
    const { body } = await ask(strict, [OBJECTS, relationOf('moody', [{ name: 'state', type: '"satellite/0".mood' }], { enum_types: [MOOD] }), lost]);
    const checks = body['table_checks'] as { table: string; problems: { code: string; message: string }[] }[];
    expect(checks.map((check) => check.problems.map((problem) => problem.code))).toEqual([['TABLE_INCOMPATIBLE'], ['TABLE_INCOMPATIBLE'], ['TABLE_INCOMPATIBLE']]);
    expect(checks[0]!.problems[0]!.message).toContain('backup table "satellite/0"."objects" does not exist; create it, or turn on auto-create-tables');
    expect(checks[1]!.problems[0]!.message).toContain(`CREATE TYPE "satellite/0"."mood" AS ENUM (E'calm', E'busy')`);
    expect(checks[2]!.problems[0]!.message).toContain('backup table "elsewhere"."lost" does not exist');
    expect(await catalogSnapshot(backup)).toEqual(before);
  });

  it('adds no enum label for good: a label the source gained is checked inside the rolled-back transaction', async () => {
    await backup.query(`CREATE TYPE "satellite/0".mood AS ENUM ('calm')`);
    const before = await catalogSnapshot(backup);
    const { body } = await ask(receiver, [relationOf('moody', [{ name: 'state', type: '"satellite/0".mood' }], { enum_types: [MOOD] })]);
    expect(body['table_checks']).toEqual([{ schema: 'satellite/0', table: 'moody', ok: true, problems: [] }]);
    expect(await catalogSnapshot(backup)).toEqual(before);
    const { rows } = await sql<{ labels: string[] }>`SELECT array(SELECT enumlabel::text FROM pg_enum WHERE enumtypid = '"satellite/0".mood'::regtype ORDER BY enumsortorder) AS labels`.execute(receiver.db);
    expect(rows[0]!.labels).toEqual(['calm']);
  });

  it('refuses a replayed ping carrying relations (401, as /verify refuses one) before any table check; a fresh one is answered', async () => {
    const captured = await signedRequest(batchOf([OBJECTS], []), receiver.keys);
    const first = await receiver.app.inject(captured);
    expect(first.statusCode).toBe(200);
    expect(first.json<Record<string, unknown>>()['table_checks']).toEqual([{ schema: 'satellite/0', table: 'objects', ok: true, problems: [] }]);
    const replay = await receiver.app.inject(captured);
    expect(replay.statusCode).toBe(401);
    expect(replay.json()).toEqual({ error: 'unauthorized' });
    expect(replay.json()).not.toHaveProperty('table_checks');
    const fresh = await ask(receiver, [OBJECTS]);
    expect(fresh.status).toBe(200);
    expect(fresh.body['table_checks']).toEqual([{ schema: 'satellite/0', table: 'objects', ok: true, problems: [] }]);
    // A plain ping makes the backup do no work: sent again, it is answered (the watermark decides duplicates, not the id).
    const plain = await signedRequest(batchOf([], []), receiver.keys);
    expect((await receiver.app.inject(plain)).statusCode).toBe(200);
    expect((await receiver.app.inject(plain)).statusCode).toBe(200);
  });

  it('a plain ping (no relations) answers as before, without table_checks', async () => {
    const { status, body } = await ask(receiver, []);
    expect(status).toBe(200);
    expect(body).not.toHaveProperty('table_checks');
  });
});
