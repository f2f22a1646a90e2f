// What the receiver advertises in its ping answer, and each signature scheme and body format it
// takes: applied when signed right, refused with nothing applied otherwise (docs/protocol.md).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from 'kysely';
import { type Batch, ContentKeys, encodeSeedEvent, generateRsaKeyPair, keyId, sealSeedV1, signWebhook } from '@storx-backup/protocol';
import { createPublicKey } from 'node:crypto';
import { UNAUTHORIZED_BODY } from '../src/index.js';
import { batchOf, type BinaryInjectRequest, type InjectRequest, OBJECTS, objectRow, signedRequest, signedV3Request, STATE_SCHEMA, tableText, type TestReceiver, testReceiver } from './support.js';

let receiver: TestReceiver;
beforeAll(async () => {
  receiver = await testReceiver();
});
afterAll(async () => {
  await receiver.close();
});

const ping: Batch = { version: 2, source_id: 'wire-formats', slot: 'backuptools_slot', commit_lsn: '0/0', chunk: { index: 0, last: true }, relations: [], events: [] };
let row = 0;
const insertBatch = (): Batch => batchOf([OBJECTS], [{ operation: 'INSERT', data: objectRow((row += 1)), old_data: null, unchanged_toast: [] }], { sourceId: 'wire-formats' });

/** Rows and watermarks: every refusal must leave them exactly as they were. */
async function backupState(): Promise<string> {
  const exists = await sql<{ t: string | null }>`SELECT to_regclass('"satellite/0".objects')::text AS t`.execute(receiver.db);
  const rows = exists.rows[0]?.t === null ? [] : await tableText(receiver.db, 'satellite/0', 'objects');
  const { rows: watermarks } = await sql<{ w: string }>`SELECT w::text FROM ${sql.id(STATE_SCHEMA, 'watermarks')} AS w ORDER BY 1`.execute(receiver.db);
  return JSON.stringify({ rows, watermarks });
}

async function rowCount(): Promise<number> {
  const { rows } = await sql<{ n: string }>`SELECT count(*)::text AS n FROM "satellite/0".objects`.execute(receiver.db);
  return Number(rows[0]!.n);
}

/** Applied: 200 with the batch's watermark, and its row is in the backup table, once. */
async function expectApplied(request: InjectRequest | BinaryInjectRequest | Promise<InjectRequest>, batch: Batch): Promise<void> {
  const response = await receiver.app.inject(await request);
  expect(response.statusCode, response.body).toBe(200);
  expect(response.json()).toMatchObject({ status: 'applied', watermark: { commit_lsn: batch.commit_lsn } });
  const key = batch.events[0]!.data!['object_key']!;
  const { rows } = await sql<{ n: string }>`SELECT count(*)::text AS n FROM "satellite/0".objects WHERE object_key = ${key}::bytea`.execute(receiver.db);
  expect(rows[0]!.n).toBe('1');
}

async function expectRefused(request: InjectRequest | BinaryInjectRequest, status: number, code?: string): Promise<void> {
  const before = await backupState();
  const response = await receiver.app.inject(request);
  expect(response.statusCode, response.body).toBe(status);
  if (status === 401) expect(response.json()).toEqual(UNAUTHORIZED_BODY);
  else if (code !== undefined) expect(response.json()).toMatchObject({ error: code });
  expect(await backupState()).toBe(before);
}

describe('signature schemes and body formats', () => {
  it('the ping answer says which formats and signature schemes the receiver takes', async () => {
    const response = await receiver.app.inject(await signedRequest(ping, receiver.keys));
    expect(response.statusCode, response.body).toBe(200);
    expect(response.json()).toMatchObject({ status: 'ping', accepts: { formats: ['v3', 'v2', 'seed-v1'], signatures: ['v1d', 'v1a'] } });
  });

  it('a v2 batch signed v1d (Ed25519 over SHA-256 of the body) is applied; one signed v1a still is', async () => {
    const digestSigned = insertBatch();
    await expectApplied(signedRequest(digestSigned, receiver.keys, { scheme: 'v1d' }), digestSigned);
    const fullSigned = insertBatch();
    await expectApplied(signedRequest(fullSigned, receiver.keys, { scheme: 'v1a' }), fullSigned);
  });

  it('v1d: a changed body, a forged signer, a stale timestamp are refused (401) and nothing is applied', async () => {
    const request = await signedRequest(insertBatch(), receiver.keys, { scheme: 'v1d' });
    const changed = `${request.payload.slice(0, -6)}${request.payload.slice(-6, -5) === 'A' ? 'B' : 'A'}${request.payload.slice(-5)}`;
    await expectRefused({ ...request, payload: changed }, 401);
    await expectRefused(await signedRequest(insertBatch(), receiver.keys, { scheme: 'v1d', signingKey: receiver.keys.forgerKey }), 401);
    await expectRefused(await signedRequest(insertBatch(), receiver.keys, { scheme: 'v1d', now: Math.floor(Date.now() / 1000) - 3600 }), 401);
  });

  it('a v3 batch (binary frame, its own content type) is applied, signed v1d or v1a; v2 and seed-v1 still are', async () => {
    const v3 = insertBatch();
    const request = signedV3Request(v3, receiver.keys);
    expect(request.headers['content-type']).toBe('application/vnd.storx.envelope.v3');
    expect(request.headers['webhook-signature']).toMatch(/^v1d,/);
    await expectApplied(request, v3);
    const v3FullSignature = insertBatch();
    await expectApplied(signedV3Request(v3FullSignature, receiver.keys, { scheme: 'v1a' }), v3FullSignature);
    const v2 = insertBatch();
    await expectApplied(signedRequest(v2, receiver.keys), v2);
    // seed-v1: one event per request, signed with our headers.
    const before = await rowCount();
    const seed = insertBatch();
    const body = sealSeedV1(encodeSeedEvent(seed.events[0]!), receiver.keys.recipient.key);
    const headers = signWebhook({ id: 'wire-formats:backuptools_slot:0000000000000001:0:0', timestamp: Math.floor(Date.now() / 1000), body, signingKeys: [receiver.keys.signingKey] });
    const response = await receiver.app.inject({ method: 'POST', url: '/webhook', headers: { ...headers, 'content-type': 'text/plain' }, payload: body });
    expect(response.statusCode, response.body).toBe(200);
    expect(await rowCount()).toBe(before + 1);
  });

  it('v3 batches sharing one content key are each applied (the receiver unwraps the key once)', async () => {
    const contentKeys = new ContentKeys();
    for (let index = 0; index < 3; index += 1) {
      const batch = insertBatch();
      await expectApplied(signedV3Request(batch, receiver.keys, { contentKeys }), batch);
    }
    expect(contentKeys.created).toBe(1);
  });

  it('v3 refusals (401, nothing applied): a flipped byte anywhere in the frame, a forged signer, a frame signed right but malformed, an unknown kid, a v2 body sent as v3', async () => {
    const good = signedV3Request(insertBatch(), receiver.keys);
    for (const index of [0, 3, 5, 40, good.payload.length - 40, good.payload.length - 1]) {
      const tampered = Buffer.from(good.payload);
      tampered[index]! ^= 0x01;
      await expectRefused({ ...good, payload: tampered }, 401);
    }
    await expectRefused({ ...good, payload: good.payload.subarray(0, good.payload.length - 1) }, 401);
    await expectRefused(signedV3Request(insertBatch(), receiver.keys, { signingKey: receiver.keys.forgerKey }), 401);

    // Signed by the trusted sender, so it passes the signature: the frame itself is checked next.
    const signedBody = (payload: Buffer, contentType = 'application/vnd.storx.envelope.v3'): BinaryInjectRequest => ({
      method: 'POST',
      url: '/webhook',
      headers: { ...signWebhook({ id: good.headers['webhook-id']!, timestamp: Math.floor(Date.now() / 1000), body: payload, signingKeys: [receiver.keys.signingKey], scheme: 'v1d' }), 'content-type': contentType },
      payload,
    });
    const truncated = good.payload.subarray(0, 100);
    await expectRefused(signedBody(truncated), 401);
    const wrongVersion = Buffer.from(good.payload);
    wrongVersion[3] = 2;
    await expectRefused(signedBody(wrongVersion), 401);
    const rotated = generateRsaKeyPair(2048);
    const rotatedKey = createPublicKey(rotated.publicKeyPem);
    await expectRefused(signedV3Request(insertBatch(), receiver.keys, { recipient: { key: rotatedKey, kid: keyId(rotatedKey) } }), 401);
    const v2 = await signedRequest(insertBatch(), receiver.keys);
    await expectRefused(signedBody(Buffer.from(v2.payload, 'latin1')), 401);
    // And a v3 frame sent as v2.
    await expectRefused(signedBody(good.payload, 'application/jose'), 401);
  });
});
