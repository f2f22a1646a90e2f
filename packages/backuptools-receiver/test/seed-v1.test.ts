// Seed-format requests: signed ones are always accepted; unsigned ones (a sender written from the
// seed document) only with accept-seed-v1, which is off by default.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from 'kysely';
import { encodeSeedEvent, sealSeedV1, signWebhook } from '@storx-backup/protocol';
import { batchOf, OBJECTS, objectRow, signedRequest, tableText, type TestReceiver, testReceiver } from './support.js';

let strict: TestReceiver;
let lenient: TestReceiver;

/** The seed's minimal ObjectChangeEvent, as a third-party sender would send it. */
const seedEvent = (index: number) => ({ operation: 'INSERT', schema: 'satellite/0', table: 'objects', timestamp: '2025-12-06T10:20:00Z', data: objectRow(index), old_data: null });

beforeAll(async () => {
  strict = await testReceiver();
  lenient = await testReceiver({ acceptUnsignedSeedV1: true });
  // Seed events carry no types: the tables must exist (created here by a v2 batch).
  for (const receiver of [strict, lenient]) {
    const response = await receiver.app.inject(await signedRequest(batchOf([OBJECTS], [{ operation: 'INSERT', data: objectRow(0), old_data: null, unchanged_toast: [] }]), receiver.keys));
    expect(response.statusCode).toBe(200);
  }
});
afterAll(async () => {
  await strict.close();
  await lenient.close();
});

function unsigned(receiver: TestReceiver, event: object) {
  const body = sealSeedV1(Buffer.from(JSON.stringify(event)), receiver.keys.recipient.key);
  return { method: 'POST' as const, url: '/webhook' as const, headers: { 'content-type': 'text/plain' }, payload: body };
}

async function count(receiver: TestReceiver): Promise<number> {
  return (await tableText(receiver.db, 'satellite/0', 'objects')).length;
}

describe('seed-v1 requests', () => {
  it('are refused unsigned by default (400, nothing applied)', async () => {
    const before = await count(strict);
    const response = await strict.app.inject(unsigned(strict, seedEvent(1)));
    expect(response.statusCode).toBe(400);
    expect(response.json()).toMatchObject({ error: 'MALFORMED_REQUEST', message: 'missing webhook-id header' });
    expect(await count(strict)).toBe(before);
  });

  it('are accepted signed, from our own replicator, with our full event', async () => {
    const event = batchOf([OBJECTS], [{ operation: 'INSERT', data: objectRow(2), old_data: null, unchanged_toast: [] }]).events[0]!;
    const body = sealSeedV1(encodeSeedEvent(event), strict.keys.recipient.key);
    const headers = signWebhook({ id: 'seed:slot:0000000000000001:0:0', timestamp: Math.floor(Date.now() / 1000), body, signingKeys: [strict.keys.signingKey] });
    const response = await strict.app.inject({ method: 'POST', url: '/webhook', headers: { ...headers, 'content-type': 'text/plain' }, payload: body });
    expect(response.statusCode, response.body).toBe(200);
    const { rows } = await sql<{ n: string }>`SELECT count(*)::text AS n FROM "satellite/0".objects WHERE object_key = '\\x00000002'::bytea`.execute(strict.db);
    expect(rows[0]!.n).toBe('1');
  });

  it('are accepted unsigned with accept-seed-v1, the seed minimal event included, and applied by key', async () => {
    const before = await count(lenient);
    expect((await lenient.app.inject(unsigned(lenient, seedEvent(3)))).statusCode).toBe(200);
    expect((await lenient.app.inject(unsigned(lenient, seedEvent(3)))).statusCode).toBe(200); // redelivered: still one row
    expect((await lenient.app.inject(unsigned(lenient, { ...seedEvent(3), operation: 'DELETE', data: null, old_data: objectRow(3) }))).statusCode).toBe(200);
    expect((await lenient.app.inject(unsigned(lenient, seedEvent(4)))).statusCode).toBe(200);
    expect(await count(lenient)).toBe(before + 1);
  });

  it('still refuse a tampered body and a wrong signature even with accept-seed-v1 (401)', async () => {
    const request = unsigned(lenient, seedEvent(5));
    const [key, sealed] = request.payload.split(':') as [string, string];
    const bytes = Buffer.from(sealed, 'base64');
    bytes[20]! ^= 1;
    expect((await lenient.app.inject({ ...request, payload: `${key}:${bytes.toString('base64')}` })).statusCode).toBe(401);
    const headers = signWebhook({ id: 'x', timestamp: Math.floor(Date.now() / 1000), body: request.payload, signingKeys: [lenient.keys.forgerKey] });
    expect((await lenient.app.inject({ ...request, headers: { ...request.headers, ...headers } })).statusCode).toBe(401);
  });

  it('without a schema are in default-schema (satellite/0): allowed by the bare table name and applied there', async () => {
    const { schema: _schema, ...minimal } = seedEvent(7);
    const before = await count(lenient);
    const response = await lenient.app.inject(unsigned(lenient, minimal));
    expect(response.statusCode, response.body).toBe(200);
    expect(await count(lenient)).toBe(before + 1);
    expect((await lenient.app.inject(unsigned(lenient, { ...minimal, table: 'users' }))).json()).toMatchObject({ error: 'TABLE_NOT_ALLOWED', message: expect.stringContaining('"satellite/0"."users"') as string });
  });

  it('are refused for a table outside the allowlist or missing on the backup (422)', async () => {
    expect((await lenient.app.inject(unsigned(lenient, { ...seedEvent(6), table: 'users' }))).json()).toMatchObject({ error: 'TABLE_NOT_ALLOWED' });
    expect((await lenient.app.inject(unsigned(lenient, { ...seedEvent(6), table: 'segments' }))).json()).toMatchObject({ error: 'TABLE_INCOMPATIBLE' });
  });
});

describe('seed-v1 replays', () => {
  it('a signed request replayed within the window is a duplicate and changes nothing', async () => {
    const event = batchOf([OBJECTS], [{ operation: 'INSERT', data: objectRow(7), old_data: null, unchanged_toast: [] }]).events[0]!;
    const body = sealSeedV1(encodeSeedEvent(event), strict.keys.recipient.key);
    const headers = signWebhook({ id: 'seed:slot:0000000000000007:0:0', timestamp: Math.floor(Date.now() / 1000), body, signingKeys: [strict.keys.signingKey] });
    const request = { method: 'POST' as const, url: '/webhook' as const, headers: { ...headers, 'content-type': 'text/plain' }, payload: body };
    expect((await strict.app.inject(request)).json()).toEqual({ status: 'applied' });
    await sql`DELETE FROM "satellite/0".objects WHERE object_key = '\\x00000007'::bytea`.execute(strict.db);
    expect((await strict.app.inject(request)).json()).toEqual({ status: 'duplicate' });
    const { rows } = await sql<{ n: string }>`SELECT count(*)::text AS n FROM "satellite/0".objects WHERE object_key = '\\x00000007'::bytea`.execute(strict.db);
    expect(rows[0]!.n).toBe('0');
  });
});
