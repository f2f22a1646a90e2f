import type { KeyObject } from 'node:crypto';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openVerifyResult, sealVerifyRequest, signWebhook, VERIFY_BODY_LIMIT_BYTES, type VerifyRequest } from '@storx-backup/protocol';
import { testReceiver, type TestReceiver } from './support.js';

type Ask = Omit<VerifyRequest, 'type' | 'response_key'>;

const ITEMS: Ask = {
  source_id: 'src',
  slot: 'slot_verify',
  schema: 'satellite/0',
  table: 'items',
  columns: ['id', 'v'],
  key: ['id'],
  ranges: [
    { from: null, to: ['500'] },
    { from: ['500'], to: null },
  ],
  max_rows_per_range: 1000,
};

let receiver: TestReceiver;

beforeAll(async () => {
  receiver = await testReceiver({ tables: ['items', 'other'] });
  await sql`CREATE SCHEMA IF NOT EXISTS "satellite/0"`.execute(receiver.db);
  await sql`CREATE TABLE "satellite/0".items (id bigint PRIMARY KEY, v text)`.execute(receiver.db);
  await sql`INSERT INTO "satellite/0".items SELECT i, 'row ' || i FROM generate_series(1, 1000) i`.execute(receiver.db);
});
afterAll(() => receiver?.close());

async function request(ask: Ask, options: { signingKey?: KeyObject } = {}) {
  const sealed = await sealVerifyRequest(ask, receiver.keys.recipient);
  const headers = { 'content-type': sealed.contentType, ...signWebhook({ id: sealed.id, timestamp: Math.floor(Date.now() / 1000), body: sealed.body, signingKeys: [options.signingKey ?? receiver.keys.signingKey] }) };
  return { sealed, inject: { method: 'POST' as const, url: '/verify', headers, payload: sealed.body } };
}

/** What the receiver has computed so far: verify requests answered with digests, and backup rows hashed. */
async function computed(): Promise<{ requests: number; rows: number }> {
  const requests = (await receiver.app.metrics.verifyRequests.get()).values.find((value) => value.labels['outcome'] === 'computed')?.value ?? 0;
  const rows = (await receiver.app.metrics.verifyRowsRead.get()).values[0]?.value ?? 0;
  return { requests, rows };
}

/** The same digest written out by hand, independently of the product's SQL. */
async function expectedHash(where: string): Promise<string> {
  const { rows } = await sql<{ hash: string }>`SELECT md5(string_agg(md5(ROW(id, v)::text), '' ORDER BY id)) AS hash FROM "satellite/0".items WHERE ${sql.raw(where)}`.execute(receiver.db);
  return rows[0]!.hash;
}

describe('POST /verify', () => {
  it('answers each range\'s count and hash, sealed under the request\'s response key', async () => {
    const { sealed, inject } = await request(ITEMS);
    const answer = await receiver.app.inject(inject);
    expect(answer.statusCode).toBe(200);
    expect(answer.body).not.toContain('499'); // nothing in clear
    const result = openVerifyResult(answer.json(), sealed.responseKey, sealed.id);
    expect(result.table).toBe('ok');
    expect(result.ranges).toEqual([
      { count: 499, hash: await expectedHash('id < 500') },
      { count: 501, hash: await expectedHash('id >= 500') },
    ]);
    // Bound to its request: another id (or key) does not open it.
    const anotherId = `${sealed.id.slice(0, -1)}${sealed.id.endsWith('0') ? '1' : '0'}`; // always another: one id in 16 (or so) ends in 0
    expect(() => openVerifyResult(answer.json(), sealed.responseKey, anotherId)).toThrow(/did not authenticate/);
  });

  it('reads at most max_rows_per_range + 1 rows of a range', async () => {
    const { sealed, inject } = await request({ ...ITEMS, ranges: [{ from: null, to: null }], max_rows_per_range: 10 });
    const result = openVerifyResult((await receiver.app.inject(inject)).json(), sealed.responseKey, sealed.id);
    expect(result.ranges[0]!.count).toBe(11);
  });

  it('says which table or columns the backup lacks', async () => {
    await sql`CREATE TABLE IF NOT EXISTS "satellite/0".other (id bigint PRIMARY KEY)`.execute(receiver.db);
    const missing = await request({ ...ITEMS, table: 'other', columns: ['id', 'gone'] });
    const result = openVerifyResult((await receiver.app.inject(missing.inject)).json(), missing.sealed.responseKey, missing.sealed.id);
    expect(result).toMatchObject({ table: 'columns_missing', missing_columns: ['gone'], ranges: [] });
  });

  it('refuses a replayed request before computing anything', async () => {
    const { inject } = await request(ITEMS);
    expect((await receiver.app.inject(inject)).statusCode).toBe(200);
    const before = await computed();
    const replay = await receiver.app.inject(inject);
    expect(replay.statusCode).toBe(401);
    expect(replay.json()).toEqual({ error: 'unauthorized' });
    expect(await computed()).toEqual(before);
  });

  it('refuses forged, unsigned, tampered, over-large and unbounded requests, and tables off the allowlist, computing nothing', async () => {
    const before = await computed();
    const forged = await request(ITEMS, { signingKey: receiver.keys.forgerKey });
    expect((await receiver.app.inject(forged.inject)).statusCode).toBe(401);

    const unsigned = await request(ITEMS);
    const { 'webhook-signature': _, ...headers } = unsigned.inject.headers;
    expect((await receiver.app.inject({ ...unsigned.inject, headers })).statusCode).toBe(400);

    const tampered = await request(ITEMS);
    const body = tampered.inject.payload;
    const flipped = `${body.slice(0, -30)}${body.at(-30) === 'A' ? 'B' : 'A'}${body.slice(-29)}`;
    expect((await receiver.app.inject({ ...tampered.inject, payload: flipped })).statusCode).toBe(401);

    const large = await request(ITEMS);
    const oversized = await receiver.app.inject({ ...large.inject, payload: 'A'.repeat(VERIFY_BODY_LIMIT_BYTES + 1) });
    expect(oversized.statusCode).toBe(413);

    const unbounded = await request({ ...ITEMS, max_rows_per_range: 2_000_000 });
    const refused = await receiver.app.inject(unbounded.inject);
    expect(refused.statusCode).toBe(422);
    expect(refused.json()).toMatchObject({ error: 'PAYLOAD_INVALID' });

    const elsewhere = await request({ ...ITEMS, schema: 'backuptools_state', table: 'watermarks' });
    const notAllowed = await receiver.app.inject(elsewhere.inject);
    expect(notAllowed.statusCode).toBe(422);
    expect(notAllowed.json()).toMatchObject({ error: 'TABLE_NOT_ALLOWED' });

    expect(await computed()).toEqual(before);
  });
});
