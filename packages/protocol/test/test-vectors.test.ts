// The committed vectors (packages/protocol/test-vectors/, described in docs/protocol.md) are
// what a third-party receiver tests itself against. If these fail, the wire format changed.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { decodeBatch, loadRsaPrivateKey, loadSigningKey, loadVerifyingKey, openBatchRequest, openSeedV1, signWebhook } from '../src/index.js';
import { forgeOpenJwe, forgeOpenSeed, forgeOpenV3 } from './forge-reference.js';

const dir = join(import.meta.dirname, '..', 'test-vectors');
const read = (name: string): Promise<string> => readFile(join(dir, name), 'utf8');

interface V2Vector {
  now: number;
  kid: string;
  signer_kid: string;
  headers: Record<string, string>;
  body: string;
}

describe('committed test vectors', () => {
  it('v2: the request verifies and opens to batch.json, byte for byte', async () => {
    const vector = JSON.parse(await read('v2-request.json')) as V2Vector;
    const receiver = await loadRsaPrivateKey(join(dir, 'receiver_private.pem'));
    const sender = await loadVerifyingKey(join(dir, 'sender_public.pem'));
    expect(receiver.kid).toBe(vector.kid);
    expect(sender.kid).toBe(vector.signer_kid);
    const opened = await openBatchRequest({ headers: vector.headers, body: vector.body, trustedKeys: [sender], decryptionKeys: [receiver], now: vector.now });
    expect(opened.batch).toEqual(decodeBatch(Buffer.from(await read('batch.json'))));
    expect(forgeOpenJwe(vector.body, await read('receiver_private.pem')).plaintext.toString('utf8')).toBe(await read('batch.json'));
  });

  it('v2: Ed25519 is deterministic, so re-signing reproduces the signature header exactly', async () => {
    const vector = JSON.parse(await read('v2-request.json')) as V2Vector;
    const signer = await loadSigningKey(join(dir, 'sender_private.pem'));
    const headers = signWebhook({ id: vector.headers['webhook-id']!, timestamp: vector.now, body: vector.body, signingKeys: [signer.key] });
    expect(headers['webhook-signature']).toBe(vector.headers['webhook-signature']);
  });

  it('v3: the request (signed v1d) verifies and opens to batch.json, byte for byte, with ours and with forge; re-signing reproduces the header', async () => {
    const vector = JSON.parse(await read('v3-request.json')) as Omit<V2Vector, 'body'> & { body_base64: string };
    const body = Buffer.from(vector.body_base64, 'base64');
    const receiver = await loadRsaPrivateKey(join(dir, 'receiver_private.pem'));
    const sender = await loadVerifyingKey(join(dir, 'sender_public.pem'));
    expect(vector.headers['webhook-signature']).toMatch(/^v1d,/);
    expect(vector.headers['content-type']).toBe('application/vnd.storx.envelope.v3');
    const opened = await openBatchRequest({ headers: vector.headers, body: Buffer.from(body), trustedKeys: [sender], decryptionKeys: [receiver], now: vector.now, format: 'v3' });
    expect(opened.batch).toEqual(decodeBatch(Buffer.from(await read('batch.json'))));
    expect(forgeOpenV3(body, await read('receiver_private.pem')).plaintext.toString('utf8')).toBe(await read('batch.json'));
    const signer = await loadSigningKey(join(dir, 'sender_private.pem'));
    expect(signWebhook({ id: vector.headers['webhook-id']!, timestamp: vector.now, body, signingKeys: [signer.key], scheme: 'v1d' })['webhook-signature']).toBe(vector.headers['webhook-signature']);
  });

  it('seed-v1: the body opens to seed-v1-event.json with ours and with forge', async () => {
    const receiver = await loadRsaPrivateKey(join(dir, 'receiver_private.pem'));
    const body = await read('seed-v1-body.txt');
    const expected = await read('seed-v1-event.json');
    expect(openSeedV1(body, [receiver.key]).toString('utf8')).toBe(expected);
    expect(forgeOpenSeed(body, await read('receiver_private.pem')).toString('utf8')).toBe(expected);
  });
});
