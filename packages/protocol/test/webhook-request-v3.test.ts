// The receiver's path for a v3 request: signature before anything else, and the cache of
// unwrapped content keys used and filled only once the signature verified.
import { describe, expect, it } from 'vitest';
import { ContentKeys, openBatchRequest, ProtocolError, sealBatchV2, sealBatchV3, signWebhook, UnwrappedKeyCache } from '../src/index.js';
import { ed25519Fixture, rsaFixture, sampleBatch } from './fixtures.js';

const receiver = rsaFixture();
const sender = ed25519Fixture();
const forger = ed25519Fixture();
const NOW = 1_765_016_400;
const recipient = { key: receiver.publicKey, kid: receiver.kid };
const decryptionKeys = [{ key: receiver.privateKey, kid: receiver.kid }];

function v3Request(contentKeys: ContentKeys, signingKey = sender.privateKey): { headers: Record<string, string>; body: Buffer } {
  const sealed = sealBatchV3(sampleBatch(), recipient, contentKeys);
  return { headers: signWebhook({ id: sealed.id, timestamp: NOW, body: sealed.body, signingKeys: [signingKey], scheme: 'v1d' }), body: sealed.body };
}

async function open(input: { headers: Record<string, string>; body: Buffer | string }, cache: UnwrappedKeyCache, format: 'v2' | 'v3' = 'v3', onAuthenticated = (): void => undefined) {
  return openBatchRequest({ ...input, trustedKeys: [sender.trusted], decryptionKeys, now: NOW, format, unwrappedKeys: cache, onAuthenticated });
}

describe('v3 request: seal, sign, verify, open', () => {
  it('round-trips a batch, same id as v2; many requests with one content key cost one unwrap', async () => {
    const contentKeys = new ContentKeys();
    const cache = new UnwrappedKeyCache();
    const sent = v3Request(contentKeys);
    expect(sent.headers['webhook-id']).toBe((await sealBatchV2(sampleBatch(), recipient)).id);
    for (let index = 0; index < 4; index += 1) expect((await open(index === 0 ? sent : v3Request(contentKeys), cache)).batch).toEqual(sampleBatch());
    expect(cache.unwraps).toBe(1);
  });

  it('an unauthenticated caller costs neither an RSA operation nor a cache slot, and is not counted as authenticated', async () => {
    const cache = new UnwrappedKeyCache();
    let authenticated = 0;
    // A frame sealed correctly to the receiver's public key (public by design), but signed by a stranger.
    const forged = v3Request(new ContentKeys(), forger.privateKey);
    await expect(open(forged, cache, 'v3', () => (authenticated += 1))).rejects.toMatchObject({ code: 'WEBHOOK_SIGNATURE_INVALID', status: 401 });
    // Unsigned-looking garbage of every kind: same.
    await expect(open({ headers: { ...forged.headers, 'webhook-timestamp': String(NOW - 3600) }, body: forged.body }, cache)).rejects.toMatchObject({ code: 'WEBHOOK_TIMESTAMP_TOO_OLD' });
    expect({ unwraps: cache.unwraps, size: cache.size, authenticated }).toEqual({ unwraps: 0, size: 0, authenticated: 0 });
  });

  it('the format comes from the content type: a v3 frame read as v2 and a v2 JWE read as v3 are refused (401)', async () => {
    const cache = new UnwrappedKeyCache();
    const v3 = v3Request(new ContentKeys());
    const error = await open(v3, cache, 'v2').catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(ProtocolError);
    expect(error).toMatchObject({ code: 'ENVELOPE_MALFORMED', status: 401 });
    const jwe = await sealBatchV2(sampleBatch(), recipient);
    const v2 = { headers: signWebhook({ id: jwe.id, timestamp: NOW, body: jwe.body, signingKeys: [sender.privateKey], scheme: 'v1d' }), body: Buffer.from(jwe.body, 'latin1') };
    await expect(open(v2, cache, 'v3')).rejects.toMatchObject({ code: 'ENVELOPE_MALFORMED', status: 401 });
  });
});
