// Wire format v3 (docs/protocol.md, "Body: wire format v3"): the frame, every way it is refused,
// content keys shared between frames and unwrapped once, and node-forge as an independent
// implementation in both directions.
import { constants, createCipheriv, publicEncrypt, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { ContentKeys, openV2, openV3, ProtocolError, type ProtocolErrorCode, sealV2, sealV3, UnwrappedKeyCache, v3Header } from '../src/index.js';
import { rsaFixture } from './fixtures.js';
import { forgeOpenV3, forgeSealV3 } from './forge-reference.js';

const receiver = rsaFixture();
const other = rsaFixture();
const recipient = { key: receiver.publicKey, kid: receiver.kid };
const keys = [{ key: receiver.privateKey, kid: receiver.kid }];
const plaintext = Buffer.from(`{"data":{"name":"ünïcødé 𝄞 \\u0000","blob":"${'x'.repeat(100)}"}}`);

const u16 = (value: number): Buffer => Buffer.from([value >> 8, value & 0xff]);
const u32 = (value: number): Buffer => {
  const bytes = Buffer.alloc(4);
  bytes.writeUInt32BE(value);
  return bytes;
};
const wrap = (cek: Buffer, publicKey = receiver.publicKey): Buffer => publicEncrypt({ key: publicKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' }, cek);

/** A frame with chosen parts, sealed correctly around them, so that only the chosen defect is wrong. */
function frame(parts: { magic?: string; version?: number; header?: Buffer | string; cek?: Buffer; wrapped?: Buffer; lengthDelta?: number } = {}): Buffer {
  const header = typeof parts.header === 'string' ? Buffer.from(parts.header, 'utf8') : (parts.header ?? v3Header(receiver.kid));
  const cek = parts.cek ?? randomBytes(32);
  const wrapped = parts.wrapped ?? wrap(cek);
  const iv = randomBytes(12);
  const prefix = Buffer.concat([Buffer.from(parts.magic ?? 'STX', 'ascii'), Buffer.from([parts.version ?? 3]), u16(header.length), header, u16(wrapped.length), wrapped, iv, u32(plaintext.length + (parts.lengthDelta ?? 0))]);
  const cipher = createCipheriv('aes-256-gcm', cek, iv, { authTagLength: 16 });
  cipher.setAAD(prefix);
  return Buffer.concat([prefix, cipher.update(plaintext), cipher.final(), cipher.getAuthTag()]);
}

async function refusal(body: Uint8Array, using = keys): Promise<ProtocolError> {
  try {
    await openV3(body, using);
  } catch (error) {
    if (error instanceof ProtocolError) return error;
    throw error;
  }
  throw new Error('frame was opened');
}

async function expectRefused(body: Uint8Array, code: ProtocolErrorCode, message?: RegExp): Promise<void> {
  const error = await refusal(body);
  expect({ code: error.code, status: error.status }, error.message).toEqual({ code, status: 401 });
  if (message) expect(error.message).toMatch(message);
}

describe('v3 frames', () => {
  it('round trip: the exact plaintext, a Buffer body, nothing encoded; "STX" 3 at the start', async () => {
    const sealed = sealV3(plaintext, recipient);
    expect(sealed.subarray(0, 4)).toEqual(Buffer.from([0x53, 0x54, 0x58, 0x03]));
    // prefix + header + key + iv + length + ciphertext + tag: no base64 overhead.
    expect(sealed.length).toBe(4 + 2 + v3Header(receiver.kid).length + 2 + 256 + 12 + 4 + plaintext.length + 16);
    expect(await openV3(sealed, keys)).toEqual(plaintext);
    expect(await openV3(frame(), keys)).toEqual(plaintext);
  });

  it('sealed by us, opened by node-forge; sealed by node-forge, opened by us (an independent implementation of docs/protocol.md)', async () => {
    const opened = forgeOpenV3(sealV3(plaintext, recipient), receiver.privateKeyPem);
    expect(opened.plaintext).toEqual(plaintext);
    expect(opened.header).toEqual({ alg: 'RSA-OAEP-256', enc: 'A256GCM', kid: receiver.kid, cty: 'storx-batch+json' });
    expect(await openV3(forgeSealV3(plaintext, receiver.publicKeyPem, receiver.kid), keys)).toEqual(plaintext);
    // forge notices tampering too (the reference is not vacuous).
    const tampered = sealV3(plaintext, recipient);
    tampered[tampered.length - 1]! ^= 1;
    expect(() => forgeOpenV3(tampered, receiver.privateKeyPem)).toThrow('tag mismatch');
  });

  it('decrypts in place when asked (the receiver), into a new buffer otherwise', async () => {
    const sealed = sealV3(plaintext, recipient);
    const copy = Buffer.from(sealed);
    expect(await openV3(sealed, keys)).toEqual(plaintext);
    expect(sealed).toEqual(copy);
    const opened = await openV3(sealed, keys, { inPlace: true });
    expect(opened).toEqual(plaintext);
    expect(opened.buffer).toBe(sealed.buffer);
  });

  it('refuses a frame that is not v3: magic, version (ENVELOPE_MALFORMED)', async () => {
    await expectRefused(frame({ magic: 'STY' }), 'ENVELOPE_MALFORMED', /start with "STX"/);
    await expectRefused(frame({ version: 2 }), 'ENVELOPE_MALFORMED', /version 2 is not 3/);
    await expectRefused(frame({ version: 4 }), 'ENVELOPE_MALFORMED', /version 4 is not 3/);
    await expectRefused(Buffer.from('eyJhbGciOiJSU0EtT0FFUC0yNTYifQ.a.b.c.d'), 'ENVELOPE_MALFORMED');
  });

  it('refuses every truncation and trailing bytes (ENVELOPE_MALFORMED, nothing decrypted)', async () => {
    const sealed = frame();
    for (let length = 0; length < sealed.length; length += 1) {
      const error = await refusal(sealed.subarray(0, length));
      expect({ length, code: error.code }).toEqual({ length, code: 'ENVELOPE_MALFORMED' });
    }
    await expectRefused(Buffer.concat([sealed, Buffer.from([0])]), 'ENVELOPE_MALFORMED', /1 bytes follow the tag/);
    // The ciphertext length disagrees with the body (both ways).
    await expectRefused(frame({ lengthDelta: 1 }), 'ENVELOPE_MALFORMED', /truncated/);
    await expectRefused(frame({ lengthDelta: -1 }), 'ENVELOPE_MALFORMED', /follow the tag/);
  });

  it('refuses wrong lengths: header 0 or over 1 KiB, a wrapped key outside 256-1024 bytes or not the size of the kid\'s key', async () => {
    await expectRefused(frame({ header: Buffer.alloc(0) }), 'ENVELOPE_MALFORMED', /header length 0/);
    await expectRefused(frame({ header: Buffer.alloc(1025, 0x20) }), 'ENVELOPE_MALFORMED', /header length 1025/);
    await expectRefused(frame({ wrapped: Buffer.alloc(255, 1) }), 'ENVELOPE_MALFORMED', /wrapped key length 255/);
    await expectRefused(frame({ wrapped: Buffer.alloc(1025, 1) }), 'ENVELOPE_MALFORMED', /wrapped key length 1025/);
    await expectRefused(frame({ wrapped: Buffer.alloc(384, 1) }), 'ENVELOPE_MALFORMED', /wrapped key is 384 bytes/);
  });

  it('refuses header members and algorithms outside the allowlist before any key is touched (ENVELOPE_ALGORITHM_NOT_ALLOWED)', async () => {
    const kid = receiver.kid;
    for (const header of [
      `{"alg":"RSA-OAEP-256","enc":"A256GCM","kid":"${kid}","cty":"storx-batch+json","zip":"DEF"}`,
      `{"alg":"RSA-OAEP-256","enc":"A256GCM","kid":"${kid}","cty":"storx-batch+json","crit":["x"]}`,
      `{"alg":"RSA-OAEP-256","enc":"A256GCM","kid":"${kid}","cty":"storx-batch+json","jku":"https://evil"}`,
      `{"alg":"RSA1_5","enc":"A256GCM","kid":"${kid}","cty":"storx-batch+json"}`,
      `{"alg":"dir","enc":"A256GCM","kid":"${kid}","cty":"storx-batch+json"}`,
      `{"alg":"RSA-OAEP-256","enc":"A128GCM","kid":"${kid}","cty":"storx-batch+json"}`,
      `{"alg":"RSA-OAEP-256","enc":"A256GCM","kid":"${kid}","cty":"text/html"}`,
      `{"alg":"RSA-OAEP-256","enc":"A256GCM","kid":"${kid}"}`,
    ]) {
      const error = await refusal(frame({ header }));
      expect({ header, code: error.code }).toEqual({ header, code: 'ENVELOPE_ALGORITHM_NOT_ALLOWED' });
    }
  });

  it('refuses a header that is not JSON, not an object, or not in its one canonical spelling (ENVELOPE_MALFORMED)', async () => {
    const kid = receiver.kid;
    for (const header of [
      'not json',
      '[1,2]',
      `{"alg":"RSA-OAEP-256", "enc":"A256GCM","kid":"${kid}","cty":"storx-batch+json"}`,
      `{"enc":"A256GCM","alg":"RSA-OAEP-256","kid":"${kid}","cty":"storx-batch+json"}`,
      `{"alg":"RSA1_5","alg":"RSA-OAEP-256","enc":"A256GCM","kid":"${kid}","cty":"storx-batch+json"}`,
      `{"alg":"RSA-OAEP-256","enc":"A256GCM","kid":7,"cty":"storx-batch+json"}`,
    ]) {
      const error = await refusal(frame({ header }));
      expect({ header, code: error.code }).toEqual({ header, code: 'ENVELOPE_MALFORMED' });
    }
  });

  it('an unknown kid: ENVELOPE_UNKNOWN_KEY, as in v2 (the key was rotated away, or the sender has the wrong public key)', async () => {
    await expectRefused(sealV3(plaintext, { key: other.publicKey, kid: other.kid }), 'ENVELOPE_UNKNOWN_KEY', new RegExp(other.kid));
    // The right kid with a key wrapped for another receiver key: the unwrap fails (one generic answer).
    await expectRefused(frame({ wrapped: wrap(randomBytes(32), other.publicKey) }), 'ENVELOPE_DECRYPT_FAILED');
  });

  it('any flipped byte of a frame is refused; after the header, always as ENVELOPE_DECRYPT_FAILED or MALFORMED (tag, ciphertext, IV, key, lengths)', async () => {
    const sealed = sealV3(Buffer.from('{"n":1}'), recipient);
    for (let index = 0; index < sealed.length; index += 1) {
      const tampered = Buffer.from(sealed);
      tampered[index]! ^= 0x01;
      const error = await refusal(tampered);
      expect(error.status, `byte ${index}`).toBe(401);
    }
    const tag = Buffer.from(sealed);
    tag[tag.length - 3]! ^= 0x80;
    await expectRefused(tag, 'ENVELOPE_DECRYPT_FAILED');
    const body = Buffer.from(sealed);
    body[body.length - 17]! ^= 0x80;
    await expectRefused(body, 'ENVELOPE_DECRYPT_FAILED');
  });
});

describe('content keys per session', () => {
  it('one content key (one RSA operation) for many frames, each with its own IV; the receiver unwraps it once', async () => {
    const contentKeys = new ContentKeys();
    const cache = new UnwrappedKeyCache();
    const frames = Array.from({ length: 5 }, () => sealV3(plaintext, recipient, contentKeys));
    expect(contentKeys.created).toBe(1);
    const wrappedOf = (sealed: Buffer): string => sealed.subarray(6 + v3Header(receiver.kid).length + 2, 6 + v3Header(receiver.kid).length + 2 + 256).toString('hex');
    const ivOf = (sealed: Buffer): string => sealed.subarray(6 + v3Header(receiver.kid).length + 2 + 256, 6 + v3Header(receiver.kid).length + 2 + 256 + 12).toString('hex');
    expect(new Set(frames.map(wrappedOf)).size).toBe(1);
    expect(new Set(frames.map(ivOf)).size).toBe(5);
    for (const sealed of frames) expect(await openV3(sealed, keys, { unwrappedKeys: cache })).toEqual(plaintext);
    expect(cache.unwraps).toBe(1);
    // v2 envelopes share it the same way, and any JWE implementation still opens each alone.
    const jwes = [await sealV2(plaintext, recipient, contentKeys), await sealV2(plaintext, recipient, contentKeys)];
    expect(new Set(jwes.map((jwe) => jwe.split('.')[1])).size).toBe(1);
    for (const jwe of jwes) expect(Buffer.from(await openV2(jwe, keys, cache))).toEqual(plaintext);
    expect(cache.unwraps).toBe(1);
  });

  it('rotates by count, by bytes, by age, and when the recipient key changes', () => {
    let now = 1_000_000;
    const byCount = new ContentKeys({ maxMessages: 3 }, () => now);
    for (let index = 0; index < 7; index += 1) byCount.next(recipient, 10);
    expect(byCount.created).toBe(3);
    const byBytes = new ContentKeys({ maxBytes: 100 }, () => now);
    for (let index = 0; index < 4; index += 1) byBytes.next(recipient, 40);
    expect(byBytes.created).toBe(2);
    const byAge = new ContentKeys({ maxAgeMs: 1000 }, () => now);
    byAge.next(recipient, 1);
    now += 999;
    byAge.next(recipient, 1);
    expect(byAge.created).toBe(1);
    now += 1;
    byAge.next(recipient, 1);
    expect(byAge.created).toBe(2);
    now -= 5000; // the clock went back: a fresh key rather than one of unknown age
    byAge.next(recipient, 1);
    expect(byAge.created).toBe(3);
    byAge.next({ key: other.publicKey, kid: other.kid }, 1);
    expect(byAge.created).toBe(4);
  });

  it('the defaults stay far below AES-GCM\'s random-IV limit of 2^32 messages per key', () => {
    const defaults = new ContentKeys();
    expect((defaults as unknown as { limits: { maxMessages: number } }).limits.maxMessages).toBeLessThanOrEqual(2 ** 20);
  });

  it('the receiver\'s cache is bounded (least recently used first) and ages entries out', () => {
    let now = 0;
    const cache = new UnwrappedKeyCache(2, 1000, () => now);
    const wrapped = [wrap(randomBytes(32)), wrap(randomBytes(32)), wrap(randomBytes(32))];
    cache.unwrap(receiver.kid, receiver.privateKey, wrapped[0]!);
    cache.unwrap(receiver.kid, receiver.privateKey, wrapped[1]!);
    cache.unwrap(receiver.kid, receiver.privateKey, wrapped[0]!); // 0 is now the most recent
    cache.unwrap(receiver.kid, receiver.privateKey, wrapped[2]!); // evicts 1
    expect({ size: cache.size, unwraps: cache.unwraps }).toEqual({ size: 2, unwraps: 3 });
    cache.unwrap(receiver.kid, receiver.privateKey, wrapped[0]!);
    expect(cache.unwraps).toBe(3);
    cache.unwrap(receiver.kid, receiver.privateKey, wrapped[1]!);
    expect(cache.unwraps).toBe(4);
    now += 1000;
    cache.unwrap(receiver.kid, receiver.privateKey, wrapped[1]!);
    expect(cache.unwraps).toBe(5);
    // A wrapped key that does not unwrap is never cached.
    expect(() => cache.unwrap(receiver.kid, receiver.privateKey, Buffer.alloc(256, 1))).toThrow();
    expect(cache.size).toBeLessThanOrEqual(2);
  });
});
