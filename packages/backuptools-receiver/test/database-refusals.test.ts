// Signed input the backup database refuses for good (a PostgreSQL limit, a type it will not
// take as input, one batch writing a key twice) is a 422 the sender stops on, not a 500 it
// retries forever; the answer and the log name the problem without the values, bounded; and
// nothing is applied, not even the DDL.
import { Writable } from 'node:stream';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Relation } from '@storx-backup/protocol';
import { createLogger } from '@storx-backup/service-kit';
import { classifyDatabaseError, withoutValues } from '../src/apply/database-errors.js';
import { batchOf, signedRequest, STATE_SCHEMA, type TestReceiver, testReceiver } from './support.js';

const logLines: string[] = [];
let receiver: TestReceiver;

beforeAll(async () => {
  const destination = new Writable({ write: (chunk: Buffer, _encoding, done) => (logLines.push(...chunk.toString().split('\n').filter(Boolean)), done()) });
  receiver = await testReceiver({ bodyLimitBytes: 8 * 1024 * 1024, logger: createLogger({ name: 'refusals', level: 'info', destination }), tables: ['refusals.wide', 'refusals.nodes', 'refusals.deep', 'refusals.dims', 'refusals.twice', 'refusals.bigkey', 'refusals.nul', 'refusals.ok'] });
});
afterAll(async () => {
  await receiver?.close();
});

/** Every table in the refusals schema with its rows, and the watermarks: what a refusal must leave untouched. */
async function backupState(): Promise<string> {
  const tables = await sql<{ name: string }>`SELECT c.relname AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'refusals' AND c.relkind = 'r' ORDER BY 1`.execute(receiver.db);
  const rows: string[] = [];
  for (const { name } of tables.rows) rows.push(...(await sql<{ row: string }>`SELECT t::text AS row FROM ${sql.id('refusals', name)} AS t ORDER BY 1`.execute(receiver.db)).rows.map((row) => `${name}: ${row.row}`));
  const watermarks = await sql<{ w: string }>`SELECT w::text FROM ${sql.id(STATE_SCHEMA, 'watermarks')} AS w ORDER BY 1`.execute(receiver.db);
  return JSON.stringify({ tables: tables.rows, rows, watermarks: watermarks.rows });
}

function relation(table: string, columns: { name: string; type: string }[], key: string[]): Relation {
  return { schema: 'refusals', table, replica_identity: 'default', columns: columns.map((column) => ({ ...column, not_null: key.includes(column.name) })), key_columns: key };
}

async function expectRefused(rel: Relation, rows: Record<string, string | null>[], secret: string | undefined, messagePattern: RegExp): Promise<void> {
  const before = await backupState();
  logLines.length = 0;
  const batch = batchOf([rel], rows.map((data) => ({ operation: 'INSERT' as const, data, old_data: null, unchanged_toast: [] })), { sourceId: `refusals-${rel.table}` });
  const response = await receiver.app.inject(await signedRequest(batch, receiver.keys));
  expect(response.statusCode, response.body).toBe(422);
  const body = response.json<{ error: string; message: string }>();
  expect(body.error).toBe('APPLY_REJECTED');
  expect(body.message).toMatch(messagePattern);
  expect(body.message.length).toBeLessThan(500);
  const logged = logLines.join('\n');
  expect(logged).toContain('APPLY_REJECTED');
  for (const line of logLines) expect(line.length).toBeLessThan(3000);
  if (secret !== undefined) {
    expect(body.message).not.toContain(secret);
    expect(logged).not.toContain(secret);
  }
  expect(await backupState()).toBe(before);
}

describe('the backup database refuses signed input for good: 422, bounded, without values, nothing applied', () => {
  it('more than 1,600 columns (54011)', async () => {
    const columns = [{ name: 'id', type: 'integer' }, ...Array.from({ length: 1600 }, (_, index) => ({ name: `c${index}`, type: 'integer' }))];
    await expectRefused(relation('wide', columns, ['id']), [{ id: '1' }], undefined, /at most 1600 columns/);
  });

  it('a column of a type PostgreSQL takes no input for (pg_node_tree, 0A000)', async () => {
    await expectRefused(relation('nodes', [{ name: 'id', type: 'integer' }, { name: 'tree', type: 'pg_node_tree' }], ['id']), [{ id: '1', tree: '{QUERY secret-node}' }], 'secret-node', /pg_node_tree/);
  });

  it('jsonb nested 100,000 deep (54001)', async () => {
    const deep = `${'['.repeat(100_000)}"deep-secret"${']'.repeat(100_000)}`;
    await expectRefused(relation('deep', [{ name: 'id', type: 'integer' }, { name: 'doc', type: 'jsonb' }], ['id']), [{ id: '1', doc: deep }], 'deep-secret', /stack depth|nested|depth/i);
  });

  it('an array of 7 dimensions (54000)', async () => {
    await expectRefused(relation('dims', [{ name: 'id', type: 'integer' }, { name: 'a', type: 'integer[]' }], ['id']), [{ id: '1', a: '{{{{{{{424242}}}}}}}' }], '424242', /dimensions/);
  });

  it('one batch writing the same key twice, as "7" and "07" (21000)', async () => {
    await expectRefused(relation('twice', [{ name: 'id', type: 'integer' }, { name: 'v', type: 'text' }], ['id']), [{ id: '7', v: 'first-secret' }, { id: '07', v: 'second-secret' }], 'second-secret', /ON CONFLICT DO UPDATE command cannot affect row a second time/);
  });

  it('a text value holding NUL (JSON \\u0000), which no PostgreSQL text can hold (22P05)', async () => {
    await expectRefused(relation('nul', [{ name: 'id', type: 'integer' }, { name: 'v', type: 'text' }], ['id']), [{ id: '1', v: 'nul-secret\u0000' }], 'nul-secret', /\\u0000 cannot be converted to text|unsupported Unicode escape/);
  });

  it('a text key over the btree row limit (54000), and its value is not echoed', async () => {
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
    let key = 'bigkey-secret-';
    for (let index = 0; index < 12_000; index += 1) key += alphabet[Math.floor(Math.random() * alphabet.length)];
    await expectRefused(relation('bigkey', [{ name: 'k', type: 'text' }], ['k']), [{ k: key }], key.slice(0, 40), /index row|btree|exceeds/i);
  });

  it('a value the backup cannot read: the message names the type, never the value, in the answer and the log', async () => {
    await expectRefused(relation('ok', [{ name: 'id', type: 'uuid' }], ['id']), [{ id: `not-a-uuid-${'x'.repeat(1024 * 1024)}` }], 'not-a-uuid', /invalid input syntax for type uuid: \(value withheld\)/);
  });
});

describe('classifyDatabaseError', () => {
  it.each([
    ['54011', 'tables can have at most 1600 columns'],
    ['54001', 'stack depth limit exceeded'],
    ['54000', 'index row size 12016 exceeds btree version 4 maximum 2704 for index "bigkey_pkey"'],
    ['0A000', 'cannot accept a value of type pg_node_tree'],
    ['21000', 'ON CONFLICT DO UPDATE command cannot affect row a second time'],
  ])('%s is a refusal (422), not an unknown failure (500)', (code, message) => {
    expect(classifyDatabaseError(Object.assign(new Error(message), { code }))).toEqual({ kind: 'rejected', message: `${message} (SQLSTATE ${code})` });
  });

  it('withholds the value PostgreSQL ends its message with, keeps identifiers, bounds the length', () => {
    expect(withoutValues('invalid input syntax for type uuid: "abc"')).toBe('invalid input syntax for type uuid: (value withheld)');
    expect(withoutValues('invalid byte sequence for encoding "UTF8": 0xc3 0x28')).toBe('invalid byte sequence for encoding "UTF8": (value withheld)');
    expect(withoutValues('null value in column "filler" of relation "pgbench_history" violates not-null constraint')).toContain('"filler"');
    expect(withoutValues('x'.repeat(100_000)).length).toBeLessThan(400);
  });
});
