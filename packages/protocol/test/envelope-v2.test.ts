import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { CompactEncrypt } from 'jose';
import { openV2, ProtocolError, sealV2, V2_CONTENT_ENCRYPTION, V2_KEY_ALGORITHM } from '../src/index.js';
import { rsaFixture } from './fixtures.js';
import { eachByteFlipped } from './tamper.js';

const receiver = rsaFixture();
const otherReceiver = rsaFixture();
const plaintext = Buffer.from('{"version":2,"note":"tamper me"}');
const ring = [{ key: receiver.privateKey, kid: receiver.kid }];
const recipient = { key: receiver.publicKey, kid: receiver.kid };

async function openError(body: string, keys = ring): Promise<ProtocolError> {
  const error = await openV2(body, keys).then(
    () => undefined,
    (caught: unknown) => caught,
  );
  if (error instanceof ProtocolError) return error;
  throw new Error(`expected a ProtocolError, got ${String(error)}`);
}

describe('wire format v2 (JWE compact, RSA-OAEP-256 + A256GCM)', () => {
  it('round-trips and carries alg, enc and kid in the protected header', async () => {
    const jwe = await sealV2(plaintext, recipient);
    const header = JSON.parse(Buffer.from(jwe.split('.')[0]!, 'base64url').toString()) as Record<string, string>;
    expect(header).toEqual({ alg: 'RSA-OAEP-256', enc: 'A256GCM', kid: receiver.kid, cty: 'storx-batch+json' });
    expect(Buffer.from(await openV2(jwe, ring))).toEqual(plaintext);
  });

  it('decrypts a ciphertext of several slices, and refuses one altered in a middle slice', async () => {
    const large = randomBytes(1536 * 1024);
    const jwe = await sealV2(large, recipient);
    // (Buffer.equals: toEqual walks 1.5 MiB a byte at a time.)
    expect(Buffer.from(await openV2(jwe, ring)).equals(large)).toBe(true);
    const [header, key, iv, ciphertext, tag] = jwe.split('.') as [string, string, string, string, string];
    const altered = (at: number, character: string): string => [header, key, iv, ciphertext.slice(0, at) + character + ciphertext.slice(at + 1), tag].join('.');
    const middle = 700_001;
    for (const stray of ['+', '/', '=', '*', ' ']) expect((await openError(altered(middle, stray))).code).toBe('ENVELOPE_MALFORMED');
    expect((await openError(altered(middle, ciphertext[middle] === 'A' ? 'B' : 'A'))).code).toBe('ENVELOPE_DECRYPT_FAILED');
    // The last slice keeps the rules for the end: no stray low bits, no length of 4k+1.
    expect((await openError([header, key, iv, `${ciphertext}A`, tag].join('.'))).code).toBe('ENVELOPE_MALFORMED');
  });

  it('picks the private key by kid among several (key rotation)', async () => {
    const jwe = await sealV2(plaintext, { key: otherReceiver.publicKey, kid: otherReceiver.kid });
    const both = [...ring, { key: otherReceiver.privateKey, kid: otherReceiver.kid }];
    expect(Buffer.from(await openV2(jwe, both))).toEqual(plaintext);
    expect((await openError(jwe)).code).toBe('ENVELOPE_UNKNOWN_KEY');
  });

  it('fails to decrypt with the wrong private key under the right kid', async () => {
    const jwe = await sealV2(plaintext, recipient);
    const error = await openError(jwe, [{ key: otherReceiver.privateKey, kid: receiver.kid }]);
    expect(error.code).toBe('ENVELOPE_DECRYPT_FAILED');
    expect(error.status).toBe(401);
  });

  it('rejects every single-byte change of header, wrapped key, iv, ciphertext and tag', async () => {
    const parts = (await sealV2(plaintext, recipient)).split('.');
    const names = ['protected header', 'encrypted key', 'iv', 'ciphertext', 'tag'];
    let checked = 0;
    for (const [partIndex, part] of parts.entries()) {
      for (const { index, tampered } of eachByteFlipped(Buffer.from(part, 'base64url'))) {
        const copy = [...parts];
        copy[partIndex] = tampered.toString('base64url');
        const error = await openError(copy.join('.'));
        expect(error.status, `${names[partIndex]} byte ${index}`).toBe(401);
        checked += 1;
      }
    }
    expect(checked).toBeGreaterThan(256 + 12 + plaintext.length + 16);
  });

  it('opens the body as the Buffer a receiver reads from the socket, byte for byte as the string', async () => {
    const jwe = await sealV2(plaintext, recipient);
    expect(Buffer.from(await openV2(Buffer.from(jwe, 'latin1'), ring))).toEqual(plaintext);
    // A non-ASCII byte anywhere is a stray character, not something to decode.
    const bytes = Buffer.from(jwe, 'latin1');
    bytes[bytes.length - 30] = 0xc3;
    expect((await openV2(bytes, ring).catch((error: unknown) => error)) as ProtocolError).toMatchObject({ code: 'ENVELOPE_MALFORMED' });
  });

  it.each([
    ['padding', (part: string) => `${part}==`],
    ['standard base64 characters', (part: string) => part.replace(/-/g, '+').replace(/_/g, '/').replace(/^./, '+')],
    ['a space', (part: string) => `${part.slice(0, 8)} ${part.slice(8)}`],
    ['a stray character', (part: string) => `${part.slice(0, 8)}!${part.slice(8)}`],
    ['a length of 4k+1', (part: string) => `${part}A`.slice(0, part.length - (part.length % 4) + 1)],
    ['non-zero unused bits in the last character', (part: string) => part.slice(0, -1) + String.fromCharCode(part.charCodeAt(part.length - 1) + 1)],
  ])('refuses a ciphertext spelled with %s (one canonical base64url spelling only)', async (_name, respell) => {
    const parts = (await sealV2(Buffer.alloc(100, 7), recipient)).split('.');
    const ciphertext = parts[3]!;
    expect(ciphertext.length % 4).not.toBe(0); // 100 bytes: 134 characters, the last with unused bits
    const changed = respell(ciphertext);
    expect(changed).not.toBe(ciphertext);
    parts[3] = changed;
    const error = await openError(parts.join('.'));
    expect(error.code).toBe('ENVELOPE_MALFORMED');
  });

  it.each([
    ['RSA1_5 key wrapping', { alg: 'RSA1_5', enc: 'A256GCM' }],
    ['RSA-OAEP (SHA-1)', { alg: 'RSA-OAEP', enc: 'A256GCM' }],
    ['direct encryption', { alg: 'dir', enc: 'A256GCM' }],
    ['AES-CBC content', { alg: 'RSA-OAEP-256', enc: 'A256CBC-HS512' }],
    ['AES-128-GCM content', { alg: 'RSA-OAEP-256', enc: 'A128GCM' }],
  ])('refuses a downgrade to %s before touching a key', async (_name, header) => {
    const jwe = await new CompactEncrypt(plaintext)
      .setProtectedHeader({ ...header, kid: receiver.kid })
      .encrypt(header.alg === 'dir' ? new Uint8Array(header.enc === 'A256GCM' ? 32 : 64) : receiver.publicKey)
      .catch(() => undefined);
    // jose may itself refuse to produce some of these; then forge the header by hand.
    const body = jwe ?? `${Buffer.from(JSON.stringify({ ...header, kid: receiver.kid })).toString('base64url')}.AAAA.AAAA.AAAA.AAAA`;
    const error = await openError(body);
    expect(error.code).toBe('ENVELOPE_ALGORITHM_NOT_ALLOWED');
  });

  it('refuses extra protected header members (zip, crit, jku, ...)', async () => {
    for (const extra of [{ zip: 'DEF' }, { crit: ['exp'], exp: 1 }, { jku: 'https://attacker.example/keys' }]) {
      const header = Buffer.from(JSON.stringify({ alg: V2_KEY_ALGORITHM, enc: V2_CONTENT_ENCRYPTION, kid: receiver.kid, ...extra })).toString('base64url');
      const [, ...rest] = (await sealV2(plaintext, recipient)).split('.');
      expect((await openError([header, ...rest].join('.'))).code).toBe('ENVELOPE_ALGORITHM_NOT_ALLOWED');
    }
  });

  it.each([
    ['empty body', ''],
    ['four parts', 'a.b.c.d'],
    ['six parts', 'a.b.c.d.e.f'],
    ['non-base64url characters', 'a+b.c.d.e.f'],
    ['header not JSON', `${Buffer.from('nope').toString('base64url')}.b.c.d.e`],
    ['header a JSON array', `${Buffer.from('[1]').toString('base64url')}.b.c.d.e`],
    ['seed format sent as v2', 'AAAA:BBBB'],
  ])('rejects a malformed body: %s', async (_name, body) => {
    const error = await openError(body);
    expect(error.code).toBe('ENVELOPE_MALFORMED');
    expect(error.status).toBe(401);
  });
});

describe('v2 is standard JWE, checked against jose', () => {
  it('opens what jose sealed', async () => {
    const jwe = await new CompactEncrypt(plaintext).setProtectedHeader({ alg: 'RSA-OAEP-256', enc: 'A256GCM', kid: receiver.kid }).encrypt(receiver.publicKey);
    expect(Buffer.from(await openV2(jwe, ring))).toEqual(plaintext);
  });

  it('opens with jose itself, an independent decrypter', async () => {
    const { compactDecrypt } = await import('jose');
    const jwe = await sealV2(plaintext, recipient);
    const { plaintext: opened, protectedHeader } = await compactDecrypt(jwe, receiver.privateKey);
    expect(Buffer.from(opened)).toEqual(plaintext);
    expect(protectedHeader).toEqual({ alg: 'RSA-OAEP-256', enc: 'A256GCM', kid: receiver.kid, cty: 'storx-batch+json' });
  });
});
