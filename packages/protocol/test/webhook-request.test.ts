import { describe, expect, it } from 'vitest';
import {
  type Batch,
  encodeBatch,
  openBatchRequest,
  openSeedRequest,
  ProtocolError,
  type ProtocolErrorCode,
  sealBatchSeedV1,
  sealBatchV2,
  sealV2,
  signWebhook,
} from '../src/index.js';
import { ed25519Fixture, rsaFixture, sampleBatch } from './fixtures.js';
import { withCharChanged } from './tamper.js';

const receiver = rsaFixture();
const sender = ed25519Fixture();
const forger = ed25519Fixture();
const NOW = 1_765_016_400;
const recipient = { key: receiver.publicKey, kid: receiver.kid };
const decryptionKeys = [{ key: receiver.privateKey, kid: receiver.kid }];

async function request(batch: Batch, signingKey = sender.privateKey): Promise<{ headers: Record<string, string>; body: string }> {
  const sealed = await sealBatchV2(batch, recipient);
  return { headers: signWebhook({ id: sealed.id, timestamp: NOW, body: sealed.body, signingKeys: [signingKey] }), body: sealed.body };
}

async function rejection(input: { headers: Record<string, string>; body: string }): Promise<ProtocolError> {
  const error = await openBatchRequest({ ...input, trustedKeys: [sender.trusted], decryptionKeys, now: NOW }).then(
    () => undefined,
    (caught: unknown) => caught,
  );
  if (error instanceof ProtocolError) return error;
  throw new Error(`expected a ProtocolError, got ${String(error)}`);
}

async function expectRejected(input: { headers: Record<string, string>; body: string }, code: ProtocolErrorCode, status: number): Promise<void> {
  const error = await rejection(input);
  expect(error.code).toBe(code);
  expect(error.status).toBe(status);
}

describe('v2 request: seal, sign, verify, open', () => {
  it('round-trips a batch with a stable id derived from source, slot, commit LSN and chunk', async () => {
    const batch = sampleBatch();
    const sent = await request(batch);
    expect(sent.headers['webhook-id']).toBe('storx-1:backuptools_slot:00000016B374D9A0:0');
    const opened = await openBatchRequest({ ...sent, trustedKeys: [sender.trusted], decryptionKeys, now: NOW });
    expect(opened.batch).toEqual(batch);
    expect(opened.webhook.signerKid).toBe(sender.kid);
    // Sealing again (a retry) gives the same id but a fresh envelope.
    const again = await sealBatchV2(batch, recipient);
    expect(again.id).toBe(sent.headers['webhook-id']);
    expect(again.body).not.toBe(sent.body);
  });

  it('gives pings a fresh id each time', async () => {
    const ping = sampleBatch({ events: [], relations: [] });
    const [a, b] = await Promise.all([sealBatchV2(ping, recipient), sealBatchV2(ping, recipient)]);
    expect(a.id).toMatch(/^storx-1:backuptools_slot:ping:[0-9a-f]{16}$/);
    expect(a.id).not.toBe(b.id);
  });

  it('rejects a forgery: correctly encrypted to the public key but signed by an untrusted key', async () => {
    await expectRejected(await request(sampleBatch(), forger.privateKey), 'WEBHOOK_SIGNATURE_INVALID', 401);
  });

  it('checks the signature before decrypting: a tampered body never reaches the private key', async () => {
    const sent = await request(sampleBatch());
    const parts = sent.body.split('.');
    parts[3] = withCharChanged(parts[3]!, 0);
    await expectRejected({ ...sent, body: parts.join('.') }, 'WEBHOOK_SIGNATURE_INVALID', 401);
  });

  it('rejects a signed body that is not an envelope for this receiver', async () => {
    const other = rsaFixture();
    const sealed = await sealV2(encodeBatch(sampleBatch()), { key: other.publicKey, kid: other.kid });
    const headers = signWebhook({ id: 'x', timestamp: NOW, body: sealed, signingKeys: [sender.privateKey] });
    await expectRejected({ headers, body: sealed }, 'ENVELOPE_UNKNOWN_KEY', 401);
  });

  it('rejects a signed, encrypted payload that breaks the schema with 422 naming the field', async () => {
    const bad = { ...sampleBatch(), commit_lsn: 'not-an-lsn' };
    const body = await sealV2(Buffer.from(JSON.stringify(bad)), recipient);
    const headers = signWebhook({ id: 'x', timestamp: NOW, body, signingKeys: [sender.privateKey] });
    const error = await rejection({ headers, body });
    expect(error.code).toBe('PAYLOAD_INVALID');
    expect(error.status).toBe(422);
    expect(error.message).toContain('commit_lsn');
  });

  it('rejects a replay outside the timestamp window', async () => {
    const sent = await request(sampleBatch());
    const error = await openBatchRequest({ ...sent, trustedKeys: [sender.trusted], decryptionKeys, now: NOW + 3600 }).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(ProtocolError);
    expect((error as ProtocolError).code).toBe('WEBHOOK_TIMESTAMP_TOO_OLD');
  });
});

describe('seed-v1 requests', () => {
  it('seals one request per event with ids stable per event, and opens them in order', () => {
    const batch = sampleBatch();
    const sealed = sealBatchSeedV1(batch, receiver.publicKey);
    expect(sealed.map((request) => request.id)).toEqual([0, 1, 2].map((index) => `storx-1:backuptools_slot:00000016B374D9A0:0:${index}`));
    const events = sealed.map((one) => {
      const headers = signWebhook({ id: one.id, timestamp: NOW, body: one.body, signingKeys: [sender.privateKey] });
      return openSeedRequest({ headers, body: one.body, trustedKeys: [sender.trusted], decryptionKeys, now: NOW }).event;
    });
    expect(events).toEqual(batch.events);
  });

  it('still requires our signature when opened through openSeedRequest', () => {
    const [one] = sealBatchSeedV1(sampleBatch(), receiver.publicKey);
    const headers = signWebhook({ id: one!.id, timestamp: NOW, body: one!.body, signingKeys: [forger.privateKey] });
    expect(() => openSeedRequest({ headers, body: one!.body, trustedKeys: [sender.trusted], decryptionKeys, now: NOW })).toThrow(ProtocolError);
  });
});
