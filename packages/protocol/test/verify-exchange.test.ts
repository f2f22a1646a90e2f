import { createPrivateKey, createPublicKey } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { generateEd25519KeyPair, generateRsaKeyPair, keyId, openVerifyRequest, openVerifyResult, sealVerifyRequest, sealVerifyResult, signWebhook, type VerifyResult } from '../src/index.js';

const rsa = generateRsaKeyPair(2048);
const recipient = { key: createPublicKey(rsa.publicKeyPem), kid: keyId(createPublicKey(rsa.publicKeyPem)) };
const decryptionKeys = [{ key: createPrivateKey(rsa.privateKeyPem), kid: recipient.kid }];
const sender = generateEd25519KeyPair();
const trustedKeys = [{ key: createPublicKey(sender.publicKeyPem), kid: keyId(createPublicKey(sender.publicKeyPem)) }];
const ask = { source_id: 'db.1', slot: 'slot', schema: 's', table: 't', columns: ['id', 'v'], key: ['id'], ranges: [{ from: null, to: ['secret-bound'] }, { from: ['secret-bound'], to: null }], max_rows_per_range: 100 };

async function signed(request: typeof ask) {
  const sealed = await sealVerifyRequest(request, recipient);
  const headers = signWebhook({ id: sealed.id, timestamp: Math.floor(Date.now() / 1000), body: sealed.body, signingKeys: [createPrivateKey(sender.privateKeyPem)] });
  return { sealed, headers, body: Buffer.from(sealed.body) };
}

describe('the verify exchange', () => {
  it('opens a sealed, signed request and answers under its response key, bound to its id', async () => {
    const { sealed, headers, body } = await signed(ask);
    expect(sealed.id).toMatch(/^db-1:slot:verify:[0-9a-f]{32}$/);
    expect(sealed.body).not.toContain('secret-bound');
    const seen: string[] = [];
    const opened = await openVerifyRequest({ headers, body, trustedKeys, decryptionKeys, onAuthenticated: (webhook) => seen.push(webhook.id) });
    expect(seen).toEqual([sealed.id]);
    expect(opened.request).toMatchObject(ask);
    expect(opened.responseKey.equals(sealed.responseKey)).toBe(true);

    const result: VerifyResult = { type: 'verify-result', watermark_lsn: '0/16B3748', table: 'ok', missing_columns: [], ranges: [{ count: 9, hash: 'd41d8cd98f00b204e9800998ecf8427e' }, { count: 0, hash: null }] };
    const answer = JSON.parse(JSON.stringify(sealVerifyResult(result, opened.responseKey, sealed.id))) as { status: string; result: string };
    expect(openVerifyResult(answer, sealed.responseKey, sealed.id)).toEqual(result);
    expect(() => openVerifyResult(answer, sealed.responseKey, sealed.id.replace(/.$/, (c) => (c === '0' ? '1' : '0')))).toThrow(/did not authenticate/);
    const flipped = { ...answer, result: answer.result.replace(/\.(.)/, (_: string, c: string) => `.${c === 'A' ? 'B' : 'A'}`) };
    expect(() => openVerifyResult(flipped, sealed.responseKey, sealed.id)).toThrow(/did not authenticate/);
  });

  it('stops at the signature before decrypting, and at onAuthenticated when it throws', async () => {
    const { headers, body } = await signed(ask);
    const forger = generateEd25519KeyPair();
    await expect(openVerifyRequest({ headers, body, trustedKeys: [{ key: createPublicKey(forger.publicKeyPem), kid: keyId(createPublicKey(forger.publicKeyPem)) }], decryptionKeys })).rejects.toMatchObject({ code: 'WEBHOOK_SIGNATURE_INVALID' });
    await expect(openVerifyRequest({ headers, body, trustedKeys, decryptionKeys, onAuthenticated: () => { throw new Error('replayed'); } })).rejects.toThrow('replayed');
  });

  it.each([
    ['too many rows in one request', { ...ask, max_rows_per_range: 1_000_001 }, /max_rows_per_range: ranges × max_rows_per_range must be at most 2000000/],
    ['a bound with the wrong number of values', { ...ask, ranges: [{ from: ['1', '2'], to: null }] }, /ranges\[0\]\.from: must hold one value per key column/],
    ['a keyless table in several ranges', { ...ask, key: [], ranges: [{ from: null, to: null }, { from: null, to: null }] }, /a table without a key is one range/],
    ['no ranges', { ...ask, ranges: [] }, /ranges/],
  ])('refuses %s (PAYLOAD_INVALID)', async (_, request, message) => {
    const { headers, body } = await signed(request as typeof ask);
    const error = await openVerifyRequest({ headers, body, trustedKeys, decryptionKeys }).catch((caught: unknown) => caught);
    expect(error).toMatchObject({ code: 'PAYLOAD_INVALID' });
    expect((error as Error).message).toMatch(message);
  });
});
