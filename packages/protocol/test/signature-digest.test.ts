// The v1d scheme: Ed25519 over a SHA-256 of the body (docs/protocol.md, "Signature").
import { createHash, sign, verify } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { ProtocolError, signWebhook, verifyWebhook, verifyWebhookOffLoop, type WebhookHeaders } from '../src/index.js';
import { ed25519Fixture } from './fixtures.js';

const sender = ed25519Fixture();
const nextSender = ed25519Fixture();
const stranger = ed25519Fixture();
const NOW = 1_765_016_400;
const ID = 'storx-1:backuptools_slot:00000016B374D9A0:0';
const body = Buffer.from('STXE\x03 any bytes at all, \x00\xff binary included', 'latin1');

function digestSigned(keys = [sender.privateKey], overrides: Partial<{ id: string; timestamp: number; body: Buffer }> = {}): WebhookHeaders {
  return signWebhook({ id: ID, timestamp: NOW, body, signingKeys: keys, scheme: 'v1d', ...overrides });
}

function rejection(run: () => unknown): ProtocolError {
  try {
    run();
  } catch (error) {
    if (error instanceof ProtocolError) return error;
    throw error;
  }
  throw new Error('request was accepted');
}

describe('v1d signatures (Ed25519 over SHA-256 of the body)', () => {
  it('signs exactly "storx-webhook/v1d:" id "." timestamp "." SHA-256(body), checked by hand', () => {
    const headers = digestSigned();
    expect(headers['webhook-signature']).toMatch(/^v1d,[A-Za-z0-9+/]{86}==$/);
    // The signed bytes, built here independently of the code under test.
    const message = Buffer.concat([Buffer.from(`storx-webhook/v1d:${ID}.${NOW}.`, 'ascii'), createHash('sha256').update(body).digest()]);
    const signature = Buffer.from(headers['webhook-signature'].slice(4), 'base64');
    expect(verify(null, message, sender.publicKey, signature)).toBe(true);
    // Ed25519 is deterministic: a signature made by hand over those bytes is the same.
    expect(sign(null, message, sender.privateKey).toString('base64')).toBe(headers['webhook-signature'].slice(4));
    expect(verifyWebhook({ headers, body, trustedKeys: [stranger.trusted, sender.trusted], now: NOW })).toEqual({ id: ID, timestamp: NOW, signerKid: sender.kid, scheme: 'v1d' });
  });

  it('a digest given by the sender (made once per batch) signs the same as one made per attempt', () => {
    const digest = createHash('sha256').update(body).digest();
    expect(signWebhook({ id: ID, timestamp: NOW, body, signingKeys: [sender.privateKey], scheme: 'v1d', bodyDigest: digest })).toEqual(digestSigned());
  });

  it('refuses a changed body, id or timestamp, and an untrusted signer (401 WEBHOOK_SIGNATURE_INVALID)', () => {
    const headers = digestSigned();
    const flipped = Buffer.from(body);
    flipped[flipped.length - 1]! ^= 1;
    const cases: [string, () => unknown][] = [
      ['body', () => verifyWebhook({ headers, body: flipped, trustedKeys: [sender.trusted], now: NOW })],
      ['truncated body', () => verifyWebhook({ headers, body: body.subarray(0, -1), trustedKeys: [sender.trusted], now: NOW })],
      ['id', () => verifyWebhook({ headers: { ...headers, 'webhook-id': `${ID}0` }, body, trustedKeys: [sender.trusted], now: NOW })],
      ['timestamp', () => verifyWebhook({ headers: { ...headers, 'webhook-timestamp': String(NOW + 1) }, body, trustedKeys: [sender.trusted], now: NOW })],
      ['timestamp with a leading zero', () => verifyWebhook({ headers: { ...headers, 'webhook-timestamp': `0${NOW}` }, body, trustedKeys: [sender.trusted], now: NOW })],
      ['signer', () => verifyWebhook({ headers: digestSigned([stranger.privateKey]), body, trustedKeys: [sender.trusted], now: NOW })],
    ];
    for (const [what, run] of cases) {
      const error = rejection(run);
      expect({ what, code: error.code, status: error.status }).toEqual({ what, code: 'WEBHOOK_SIGNATURE_INVALID', status: 401 });
    }
  });

  it('a v1a signature relabelled v1d, or a v1d relabelled v1a, never verifies (the schemes sign different messages)', () => {
    const full = signWebhook({ id: ID, timestamp: NOW, body, signingKeys: [sender.privateKey] });
    const digest = digestSigned();
    for (const headers of [
      { ...full, 'webhook-signature': full['webhook-signature'].replace(/^v1a,/, 'v1d,') },
      { ...digest, 'webhook-signature': digest['webhook-signature'].replace(/^v1d,/, 'v1a,') },
    ]) {
      expect(rejection(() => verifyWebhook({ headers, body, trustedKeys: [sender.trusted], now: NOW })).code).toBe('WEBHOOK_SIGNATURE_INVALID');
    }
    // Nor does a v1d signature verify as a v1a one over a body that is the v1d message's tail.
    const digestBody = createHash('sha256').update(body).digest();
    const relabelled = { ...digest, 'webhook-id': 'storx-webhook', 'webhook-signature': digest['webhook-signature'].replace(/^v1d,/, 'v1a,') };
    expect(rejection(() => verifyWebhook({ headers: relabelled, body: digestBody, trustedKeys: [sender.trusted], now: NOW })).code).toBe('WEBHOOK_SIGNATURE_INVALID');
  });

  it('a key rotation: v1d entries by the old and the new key, with v1a entries beside them', () => {
    const digest = digestSigned([sender.privateKey, nextSender.privateKey]);
    const full = signWebhook({ id: ID, timestamp: NOW, body, signingKeys: [sender.privateKey, nextSender.privateKey] });
    const four = { ...digest, 'webhook-signature': `${digest['webhook-signature']} ${full['webhook-signature']}` };
    expect(verifyWebhook({ headers: four, body, trustedKeys: [nextSender.trusted], now: NOW })).toMatchObject({ signerKid: nextSender.kid, scheme: 'v1d' });
    // A receiver that knows only v1a keeps working off the v1a entries; one that knows v1d uses those first.
    const broken = { ...four, 'webhook-signature': four['webhook-signature'].replace(/v1d,[^ ]+ v1d,[^ ]+/, `v1d,${Buffer.alloc(64).toString('base64')}`) };
    expect(verifyWebhook({ headers: broken, body, trustedKeys: [sender.trusted], now: NOW })).toMatchObject({ signerKid: sender.kid, scheme: 'v1a' });
  });

  it('three v1d entries are refused (400) before the body is read; a bad-length v1d entry too', () => {
    const three = digestSigned([sender.privateKey, nextSender.privateKey, stranger.privateKey]);
    expect(rejection(() => verifyWebhook({ headers: three, body, trustedKeys: [sender.trusted], now: NOW }))).toMatchObject({ code: 'WEBHOOK_MALFORMED_HEADER', status: 400 });
    const short = { ...digestSigned(), 'webhook-signature': `v1d,${Buffer.alloc(63).toString('base64')}` };
    expect(rejection(() => verifyWebhook({ headers: short, body, trustedKeys: [sender.trusted], now: NOW }))).toMatchObject({ code: 'WEBHOOK_MALFORMED_HEADER', status: 400 });
  });

  it('off the event loop: a 9 MiB body is hashed in slices and verifies the same; one flipped byte anywhere is refused', async () => {
    const large = Buffer.alloc(9 * 1024 * 1024, 7);
    large[5 * 1024 * 1024 + 3] = 1;
    const headers = digestSigned([sender.privateKey], { body: large });
    expect(await verifyWebhookOffLoop({ headers, body: large, trustedKeys: [sender.trusted], now: NOW })).toEqual(verifyWebhook({ headers, body: large, trustedKeys: [sender.trusted], now: NOW }));
    large[8 * 1024 * 1024 + 11]! ^= 0x40;
    await expect(verifyWebhookOffLoop({ headers, body: large, trustedKeys: [sender.trusted], now: NOW })).rejects.toMatchObject({ code: 'WEBHOOK_SIGNATURE_INVALID' });
  });
});
