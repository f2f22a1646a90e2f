import { describe, expect, it } from 'vitest';
import { checkWebhookHeaders, ProtocolError, type ProtocolErrorCode, signWebhook, verifyWebhook, verifyWebhookOffLoop, type WebhookHeaders } from '../src/index.js';
import { ed25519Fixture } from './fixtures.js';

const sender = ed25519Fixture();
const nextSender = ed25519Fixture();
const stranger = ed25519Fixture();
const NOW = 1_765_016_400;
const body = 'eyJhbGciOi.example.body';

function signed(overrides: Partial<{ id: string; timestamp: number; body: string }> = {}, keys = [sender.privateKey]): WebhookHeaders {
  return signWebhook({ id: 'storx-1:backuptools_slot:00000016B374D9A0:0', timestamp: NOW, body, signingKeys: keys, ...overrides });
}

function verifyError(headers: Record<string, string | string[] | undefined>, options: { body?: string; now?: number; trusted?: (typeof sender.trusted)[] } = {}): ProtocolError {
  try {
    verifyWebhook({ headers, body: options.body ?? body, trustedKeys: options.trusted ?? [sender.trusted], now: options.now ?? NOW });
  } catch (error) {
    if (error instanceof ProtocolError) return error;
    throw error;
  }
  throw new Error('request was accepted');
}

function expectRejected(code: ProtocolErrorCode, status: number, headers: Record<string, string | string[] | undefined>, options: Parameters<typeof verifyError>[1] = {}): void {
  const error = verifyError(headers, options);
  expect(error.code).toBe(code);
  expect(error.status).toBe(status);
}

describe('Standard Webhooks signatures (v1a, Ed25519)', () => {
  it('verifies a signed request and names the signer', () => {
    const headers = signed();
    expect(headers['webhook-signature']).toMatch(/^v1a,[A-Za-z0-9+/]{86}==$/);
    expect(verifyWebhook({ headers, body, trustedKeys: [stranger.trusted, sender.trusted], now: NOW })).toEqual({
      id: headers['webhook-id'],
      timestamp: NOW,
      signerKid: sender.kid,
      scheme: 'v1a',
    });
  });

  it('accepts any of several signatures during a key rotation', () => {
    const both = signed({}, [sender.privateKey, nextSender.privateKey]);
    expect(both['webhook-signature'].split(' ')).toHaveLength(2);
    expect(verifyWebhook({ headers: both, body, trustedKeys: [nextSender.trusted], now: NOW }).signerKid).toBe(nextSender.kid);
    expect(verifyWebhook({ headers: both, body, trustedKeys: [sender.trusted], now: NOW }).signerKid).toBe(sender.kid);
  });

  it('ignores entries of other versions (such as HMAC v1) but needs one v1a entry', () => {
    const headers = signed();
    const mixed = { ...headers, 'webhook-signature': `v1,aGVsbG8= ${headers['webhook-signature']}` };
    expect(verifyWebhook({ headers: mixed, body, trustedKeys: [sender.trusted], now: NOW }).signerKid).toBe(sender.kid);
    expectRejected('WEBHOOK_SIGNATURE_INVALID', 401, { ...headers, 'webhook-signature': 'v1,aGVsbG8=' });
  });

  it.each(['webhook-id', 'webhook-timestamp', 'webhook-signature'] as const)('rejects a request missing %s (400)', (name) => {
    const headers: Record<string, string | undefined> = { ...signed() };
    delete headers[name];
    expectRejected('WEBHOOK_MISSING_HEADER', 400, headers);
    expectRejected('WEBHOOK_MISSING_HEADER', 400, { ...signed(), [name]: '' });
  });

  it.each([
    ['a repeated header', { 'webhook-id': ['a', 'b'] }],
    ['an id with a dot', { 'webhook-id': 'a.b' }],
    ['an id with a space', { 'webhook-id': 'a b' }],
    ['a non-numeric timestamp', { 'webhook-timestamp': '17650164OO' }],
    ['a fractional timestamp', { 'webhook-timestamp': '1765016400.5' }],
    ['a signature entry without a comma', { 'webhook-signature': 'v1a' }],
    ['a signature that is not base64', { 'webhook-signature': 'v1a,@@@@' }],
    ['a signature of the wrong length', { 'webhook-signature': `v1a,${Buffer.alloc(32).toString('base64')}` }],
    ['too many signatures', { 'webhook-signature': Array.from({ length: 5 }, () => 'v1,aGk=').join(' ') }],
    ['three v1a signatures (two cover a rotation)', { 'webhook-signature': Array.from({ length: 3 }, () => `v1a,${Buffer.alloc(64, 1).toString('base64')}`).join(' ') }],
  ])('rejects %s as malformed (400)', (_name, override) => {
    expectRejected('WEBHOOK_MALFORMED_HEADER', 400, { ...signed(), ...override });
  });

  it('rejects stale and future timestamps outside the tolerance (401), accepts the edges', () => {
    const headers = signed();
    expectRejected('WEBHOOK_TIMESTAMP_TOO_OLD', 401, headers, { now: NOW + 301 });
    expectRejected('WEBHOOK_TIMESTAMP_IN_FUTURE', 401, headers, { now: NOW - 301 });
    expect(() => verifyWebhook({ headers, body, trustedKeys: [sender.trusted], now: NOW + 300 })).not.toThrow();
    expect(() => verifyWebhook({ headers, body, trustedKeys: [sender.trusted], now: NOW - 300 })).not.toThrow();
    expect(() => verifyWebhook({ headers, body, trustedKeys: [sender.trusted], now: NOW + 400, toleranceSeconds: 500 })).not.toThrow();
  });

  it('rejects a signature by an untrusted key (a forger holding the public encryption key)', () => {
    expectRejected('WEBHOOK_SIGNATURE_INVALID', 401, signed({}, [stranger.privateKey]));
    expectRejected('WEBHOOK_SIGNATURE_INVALID', 401, signed(), { trusted: [] });
  });

  it('binds id, timestamp and body: changing any of them breaks the signature', () => {
    const headers = signed();
    expectRejected('WEBHOOK_SIGNATURE_INVALID', 401, headers, { body: `${body}x` });
    expectRejected('WEBHOOK_SIGNATURE_INVALID', 401, { ...headers, 'webhook-id': 'storx-1:backuptools_slot:00000016B374D9A0:1' });
    expectRejected('WEBHOOK_SIGNATURE_INVALID', 401, { ...headers, 'webhook-timestamp': String(NOW + 1) });
  });

  it('rejects every single-bit change of the signature', () => {
    const headers = signed();
    const signature = Buffer.from(headers['webhook-signature'].slice(4), 'base64');
    for (let index = 0; index < signature.length; index += 1) {
      const tampered = Buffer.from(signature);
      tampered[index]! ^= 0x01;
      expectRejected('WEBHOOK_SIGNATURE_INVALID', 401, { ...headers, 'webhook-signature': `v1a,${tampered.toString('base64')}` });
    }
  });

  it('verifies over a Buffer body (the bytes as received) off the event loop, with the same answers', async () => {
    const headers = signed();
    const bytes = Buffer.from(body, 'utf8');
    expect(await verifyWebhookOffLoop({ headers, body: bytes, trustedKeys: [sender.trusted], now: NOW })).toEqual(verifyWebhook({ headers, body, trustedKeys: [sender.trusted], now: NOW }));
    const tampered = Buffer.from(bytes);
    tampered[3]! ^= 1;
    await expect(verifyWebhookOffLoop({ headers, body: tampered, trustedKeys: [sender.trusted], now: NOW })).rejects.toMatchObject({ code: 'WEBHOOK_SIGNATURE_INVALID' });
    // A body that is not UTF-8 is signed and verified as its bytes (no decode, no U+FFFD).
    const binary = Buffer.from([0xff, 0xfe, 0x00, 0xc3]);
    const binaryHeaders = signWebhook({ id: 'x', timestamp: NOW, body: binary, signingKeys: [sender.privateKey] });
    expect((await verifyWebhookOffLoop({ headers: binaryHeaders, body: binary, trustedKeys: [sender.trusted], now: NOW })).signerKid).toBe(sender.kid);
    await expect(verifyWebhookOffLoop({ headers: binaryHeaders, body: Buffer.from(binary.toString('utf8')), trustedKeys: [sender.trusted], now: NOW })).rejects.toMatchObject({ code: 'WEBHOOK_SIGNATURE_INVALID' });
  });

  it('checks the headers alone, before any body exists', () => {
    const headers = signed();
    expect(checkWebhookHeaders({ headers, now: NOW })).toMatchObject({ id: headers['webhook-id'], timestamp: NOW, timestampText: String(NOW) });
    expect(() => checkWebhookHeaders({ headers, now: NOW + 301 })).toThrow(expect.objectContaining({ code: 'WEBHOOK_TIMESTAMP_TOO_OLD' }) as Error);
    // The signature covers the timestamp as sent: leading zeros are part of it.
    const padded = { ...headers, 'webhook-timestamp': `0${headers['webhook-timestamp']}` };
    expectRejected('WEBHOOK_SIGNATURE_INVALID', 401, padded);
  });

  it('refuses to sign with an id or timestamp a receiver would reject', () => {
    expect(() => signed({ id: 'a.b' })).toThrow(RangeError);
    expect(() => signed({ timestamp: 1.5 })).toThrow(RangeError);
    expect(() => signed({}, [])).toThrow(RangeError);
  });
});
