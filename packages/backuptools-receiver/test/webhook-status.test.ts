import { createPublicKey } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from 'kysely';
import { encodeBatch, generateRsaKeyPair, keyId, sealV2, signWebhook } from '@storx-backup/protocol';
import { CompactEncrypt } from 'jose';
import { UNAUTHORIZED_BODY } from '../src/index.js';
import { batchOf, OBJECTS, objectRow, signedRequest, STATE_SCHEMA, tableText, type TestReceiver, testReceiver } from './support.js';

let receiver: TestReceiver;
beforeAll(async () => {
  receiver = await testReceiver();
});
afterAll(async () => {
  await receiver.close();
});

/** The key columns of a row: what a DELETE carries under REPLICA IDENTITY DEFAULT. */
function keyOf(row: Record<string, string | null>): Record<string, string | null> {
  return Object.fromEntries(OBJECTS.key_columns.map((column) => [column, row[column] ?? null]));
}

async function send(request: Awaited<ReturnType<typeof signedRequest>>) {
  return receiver.app.inject(request);
}

async function objectCount(): Promise<number> {
  const exists = await sql<{ t: string | null }>`SELECT to_regclass('"satellite/0".objects')::text AS t`.execute(receiver.db);
  if (exists.rows[0]?.t === null) return 0;
  const { rows } = await sql<{ n: string }>`SELECT count(*)::text AS n FROM "satellite/0".objects`.execute(receiver.db);
  return Number(rows[0]!.n);
}

/** Every rejection must leave the backup exactly as it was: rows and watermarks. */
async function snapshot(): Promise<string> {
  const rows = (await objectCount()) === 0 ? [] : await tableText(receiver.db, 'satellite/0', 'objects');
  const { rows: watermarks } = await sql<{ w: string }>`SELECT w::text FROM ${sql.id(STATE_SCHEMA, 'watermarks')} AS w ORDER BY 1`.execute(receiver.db);
  return JSON.stringify({ rows, watermarks });
}

async function expectRejected(request: Awaited<ReturnType<typeof signedRequest>>, status: number, code?: string): Promise<void> {
  const before = await snapshot();
  const response = await send(request);
  expect(response.statusCode, response.body).toBe(status);
  if (status === 401) expect(response.json()).toEqual(UNAUTHORIZED_BODY);
  else if (code) expect(response.json()).toMatchObject({ error: code });
  expect(await snapshot()).toBe(before);
}

describe('POST /webhook answers', () => {
  it('200 applied, with the new watermark', async () => {
    const batch = batchOf([OBJECTS], [{ operation: 'INSERT', data: objectRow(1), old_data: null, unchanged_toast: [] }]);
    const response = await send(await signedRequest(batch, receiver.keys));
    expect(response.statusCode, response.body).toBe(200);
    const watermark = { commit_lsn: batch.commit_lsn, chunk_index: 0, chunk_last: true, event_seq: 0 };
    // Committed asynchronously (the default): durable is answered apart, at most what is applied.
    expect(response.json()).toEqual({ status: 'applied', watermark, durable: response.json<{ durable: unknown }>().durable });
    expect(Object.keys(response.json<object>())).toContain('durable');
    expect(await objectCount()).toBe(1);
  });

  it('200 duplicate for a replay of an applied batch, which changes nothing', async () => {
    const batch = batchOf([OBJECTS], [{ operation: 'INSERT', data: objectRow(2), old_data: null, unchanged_toast: [] }]);
    expect((await send(await signedRequest(batch, receiver.keys))).statusCode).toBe(200);
    const before = await snapshot();
    // Someone deletes the row on the backup: a re-applied batch would bring it back.
    await sql`DELETE FROM "satellite/0".objects WHERE object_key = '\\x00000002'::bytea`.execute(receiver.db);
    const replay = await send(await signedRequest(batch, receiver.keys));
    expect(replay.statusCode).toBe(200);
    expect(replay.json()).toMatchObject({ status: 'duplicate', watermark: { commit_lsn: batch.commit_lsn } });
    expect(await snapshot()).not.toBe(before);
    expect(await objectCount()).toBe(1);
  });

  it('200 ping for a signed batch with no events, touching nothing', async () => {
    const before = await snapshot();
    const response = await send(await signedRequest(batchOf([OBJECTS], []), receiver.keys));
    expect(response.statusCode).toBe(200);
    expect(response.json()).toEqual({ status: 'ping', watermark: expect.objectContaining({ commit_lsn: expect.any(String) as string }) as unknown, table_copies: [], refusal: null, origin: null, accepts: { formats: ['v3', 'v2', 'seed-v1'], signatures: ['v1d', 'v1a'], follows: true, copy: ['text'], copy_follows: true, durable: true },
      durable: expect.objectContaining({ commit_lsn: expect.any(String) as string }) as unknown,
      // A ping carrying relations is also asked whether the backup can take each table (doctor's question).
      table_checks: [{ schema: 'satellite/0', table: 'objects', ok: true, problems: [] }],
    });
    expect(await snapshot()).toBe(before);
  });

  it('400 for missing or malformed webhook headers', async () => {
    const request = await signedRequest(batchOf([OBJECTS], [{ operation: 'INSERT', data: objectRow(10), old_data: null, unchanged_toast: [] }]), receiver.keys);
    const { 'webhook-signature': _signature, ...unsigned } = request.headers;
    await expectRejected({ ...request, headers: unsigned }, 400, 'MALFORMED_REQUEST');
    await expectRejected({ ...request, headers: { ...request.headers, 'webhook-timestamp': 'yesterday' } }, 400, 'MALFORMED_REQUEST');
  });

  it('401, always the same body, for forged, tampered, stale, future, wrong-key and downgraded requests', async () => {
    const batch = batchOf([OBJECTS], [{ operation: 'INSERT', data: objectRow(11), old_data: null, unchanged_toast: [] }]);
    // Forged: encrypted correctly to the receiver's public key, signed by a key it does not trust.
    await expectRejected(await signedRequest(batch, receiver.keys, { signingKey: receiver.keys.forgerKey }), 401);
    // Tampered body after signing.
    const good = await signedRequest(batch, receiver.keys);
    // A different second-to-last character (writing a fixed "AA" there changed nothing one run in 256).
    await expectRejected({ ...good, payload: `${good.payload.slice(0, -2)}${good.payload.at(-2) === 'A' ? 'B' : 'A'}${good.payload.at(-1)}` }, 401);
    // Stale and future timestamps (replays outside the window).
    await expectRejected(await signedRequest(batch, receiver.keys, { now: Math.floor(Date.now() / 1000) - 301 }), 401);
    await expectRejected(await signedRequest(batch, receiver.keys, { now: Math.floor(Date.now() / 1000) + 301 }), 401);
    // Encrypted to a key this receiver does not hold, correctly signed.
    const other = generateRsaKeyPair(2048);
    const otherPublic = createPublicKey(other.publicKeyPem);
    const foreign = await sealV2(encodeBatch(batch), { key: otherPublic, kid: keyId(otherPublic) });
    await expectRejected(signedBody(foreign), 401);
    // Downgraded: RSA-OAEP (SHA-1) instead of RSA-OAEP-256, correctly signed.
    const downgraded = await new CompactEncrypt(encodeBatch(batch))
      .setProtectedHeader({ alg: 'RSA-OAEP', enc: 'A256GCM', kid: receiver.keys.recipient.kid })
      .encrypt(receiver.keys.recipient.key);
    await expectRejected(signedBody(downgraded), 401);
  });

  it('409 for a chunk whose predecessor was never applied', async () => {
    const batch = batchOf([OBJECTS], [{ operation: 'INSERT', data: objectRow(12), old_data: null, unchanged_toast: [] }], { chunk: { index: 3, last: false } });
    await expectRejected(await signedRequest(batch, receiver.keys), 409, 'CHUNK_OUT_OF_ORDER');
  });

  it('413 for a body over the limit, before anything is verified', async () => {
    const request = await signedRequest(batchOf([OBJECTS], []), receiver.keys);
    await expectRejected({ ...request, payload: 'A'.repeat(1024 * 1024 + 1) }, 413, 'BODY_TOO_LARGE');
  });

  it('415 for a content type that is neither format', async () => {
    const request = await signedRequest(batchOf([OBJECTS], []), receiver.keys);
    await expectRejected({ ...request, headers: { ...request.headers, 'content-type': 'application/json' } }, 415, 'UNSUPPORTED_MEDIA_TYPE');
  });

  it('422 for a signed payload that breaks the schema, naming the field', async () => {
    const batch = batchOf([OBJECTS], [{ operation: 'INSERT', data: objectRow(13), old_data: null, unchanged_toast: [] }]);
    const broken = { ...batch, events: batch.events.map((event) => ({ ...event, operation: 'UPSERT' })) };
    const body = await sealV2(Buffer.from(JSON.stringify(broken)), receiver.keys.recipient);
    const before = await snapshot();
    const response = await send(signedBody(body));
    expect(response.statusCode).toBe(422);
    expect(response.json()).toMatchObject({ error: 'PAYLOAD_INVALID', message: expect.stringContaining('events[0].operation') as string });
    expect(await snapshot()).toBe(before);
  });

  it('422 for a table outside the allowlist', async () => {
    const users = { ...OBJECTS, table: 'users' };
    await expectRejected(await signedRequest(batchOf([users], [{ operation: 'INSERT', data: objectRow(14), old_data: null, unchanged_toast: [] }]), receiver.keys), 422, 'TABLE_NOT_ALLOWED');
    const injected = { ...OBJECTS, table: 'x"; DROP TABLE objects; --' };
    await expectRejected(await signedRequest(batchOf([injected], [{ operation: 'INSERT', data: objectRow(15), old_data: null, unchanged_toast: [] }]), receiver.keys), 422, 'TABLE_NOT_ALLOWED');
  });

  it('422 for an injection attempt through a column name on an allowed table, and the table survives', async () => {
    const evil = 'x"; DROP TABLE "satellite/0".objects; --';
    const relation = { ...OBJECTS, columns: [...OBJECTS.columns, { name: evil, type: 'text', not_null: false }] };
    await expectRejected(await signedRequest(batchOf([relation], [{ operation: 'INSERT', data: { ...objectRow(16), [evil]: 'boom' }, old_data: null, unchanged_toast: [] }]), receiver.keys), 422, 'TABLE_INCOMPATIBLE');
    expect(await objectCount()).toBeGreaterThan(0);
  });

  it('422 for a type change against the existing backup table', async () => {
    const changed = { ...OBJECTS, columns: OBJECTS.columns.map((column) => (column.name === 'total_size' ? { ...column, type: 'text' } : column)) };
    const before = await snapshot();
    const response = await send(await signedRequest(batchOf([changed], [{ operation: 'INSERT', data: objectRow(17), old_data: null, unchanged_toast: [] }]), receiver.keys));
    expect(response.statusCode).toBe(422);
    expect(response.json()).toMatchObject({ error: 'TABLE_INCOMPATIBLE', message: expect.stringContaining('column "total_size" is numeric(38,10) on the backup but text on the source') as string });
    expect(await snapshot()).toBe(before);
  });

  it('422 for a value the backup cannot read, and the statements before it are rolled back', async () => {
    const batch = batchOf([OBJECTS], [
      { operation: 'INSERT', data: objectRow(18), old_data: null, unchanged_toast: [] },
      { operation: 'DELETE', data: null, old_data: keyOf(objectRow(1)), unchanged_toast: [] },
      { operation: 'INSERT', data: objectRow(19, { total_size: 'not a number' }), old_data: null, unchanged_toast: [] },
    ]);
    await expectRejected(await signedRequest(batch, receiver.keys), 422, 'APPLY_REJECTED');
  });

  it('503 with Retry-After when the backup database is unreachable', async () => {
    const down = await testReceiver({ databaseUrl: 'postgres://postgres@127.0.0.1:1/none' });
    try {
      const response = await down.app.inject(await signedRequest(batchOf([OBJECTS], [{ operation: 'INSERT', data: objectRow(20), old_data: null, unchanged_toast: [] }]), down.keys));
      expect(response.statusCode).toBe(503);
      expect(response.headers['retry-after']).toBe('5');
      expect(response.json()).toMatchObject({ error: 'DATABASE_UNAVAILABLE' });
      const readyz = await down.app.inject({ method: 'GET', url: '/readyz' });
      expect(readyz.statusCode).toBe(503);
      // Unauthenticated: it says what, not where (the database's address is in the log only).
      expect(readyz.json()).toMatchObject({ error: 'DATABASE_UNAVAILABLE' });
      expect(readyz.body).not.toMatch(/127\.0\.0\.1|ECONNREFUSED|:1\b/);
    } finally {
      await down.close();
    }
  });

  it('counts answers by status and reason in /metrics', async () => {
    const response = await receiver.app.inject({ method: 'GET', url: '/metrics' });
    expect(response.body).toMatch(/backuptools_requests_total\{status="200",reason="applied"\} \d+/);
    expect(response.body).toMatch(/backuptools_requests_total\{status="401",reason="UNAUTHORIZED"\} \d+/);
    expect(response.body).toMatch(/backuptools_events_applied_total\{table="objects",operation="INSERT"\} \d+/);
    expect((await receiver.app.inject({ method: 'GET', url: '/healthz' })).json()).toEqual({ status: 'ok' });
    expect((await receiver.app.inject({ method: 'GET', url: '/readyz' })).json()).toEqual({ status: 'ready' });
  });
});

function signedBody(body: string) {
  const headers = signWebhook({ id: 'test:backuptools_slot:0000000000000001:0', timestamp: Math.floor(Date.now() / 1000), body, signingKeys: [receiver.keys.signingKey] });
  return { method: 'POST' as const, url: '/webhook' as const, headers: { ...headers, 'content-type': 'application/jose' }, payload: body };
}

describe('incompatible keys', () => {
  it('422 when the source key differs from the backup primary key, naming both', async () => {
    const rekeyed = { ...OBJECTS, key_columns: ['project_id', 'object_key'] };
    const response = await receiver.app.inject(await signedRequest(batchOf([rekeyed], [{ operation: 'INSERT', data: objectRow(40), old_data: null, unchanged_toast: [] }]), receiver.keys));
    expect(response.statusCode).toBe(422);
    expect(response.json()).toMatchObject({ error: 'TABLE_INCOMPATIBLE', message: expect.stringContaining('is keyed by ("project_id", "object_key", "version") but the source is keyed by ("project_id", "object_key")') as string });
  });
});
