import { describe, expect, it } from 'vitest';
import { openSeedV1, ProtocolError, sealSeedV1 } from '../src/index.js';
import { rsaFixture } from './fixtures.js';
import { eachByteFlipped } from './tamper.js';

const receiver = rsaFixture();
const other = rsaFixture();
const plaintext = Buffer.from('{"operation":"INSERT","table":"objects","data":{"a":"1"},"old_data":null}');

function openError(body: string, keys = [receiver.privateKey]): ProtocolError {
  try {
    openSeedV1(body, keys);
  } catch (error) {
    if (error instanceof ProtocolError) return error;
    throw error;
  }
  throw new Error('envelope was accepted');
}

describe('seed-compatible format (RSA-OAEP-SHA256 key : iv‖ciphertext‖tag, AES-256-GCM)', () => {
  it('round-trips, and has the layout the seed document describes', () => {
    const body = sealSeedV1(plaintext, receiver.publicKey);
    const [wrapped, sealed] = body.split(':').map((part) => Buffer.from(part, 'base64'));
    expect(wrapped).toHaveLength(256);
    expect(sealed).toHaveLength(12 + plaintext.length + 16);
    expect(openSeedV1(body, [receiver.privateKey])).toEqual(plaintext);
  });

  it('finds the right key among several', () => {
    const body = sealSeedV1(plaintext, receiver.publicKey);
    expect(openSeedV1(body, [other.privateKey, receiver.privateKey])).toEqual(plaintext);
  });

  it('fails with the wrong key', () => {
    const error = openError(sealSeedV1(plaintext, receiver.publicKey), [other.privateKey]);
    expect(error.code).toBe('ENVELOPE_DECRYPT_FAILED');
    expect(error.status).toBe(401);
  });

  it('rejects every single-byte change of wrapped key, iv, ciphertext and tag', () => {
    const [wrappedText, sealedText] = sealSeedV1(plaintext, receiver.publicKey).split(':') as [string, string];
    const sealed = Buffer.from(sealedText, 'base64');
    for (const { index, tampered } of eachByteFlipped(Buffer.from(wrappedText, 'base64'))) {
      expect(openError(`${tampered.toString('base64')}:${sealedText}`).code, `wrapped key byte ${index}`).toBe('ENVELOPE_DECRYPT_FAILED');
    }
    for (const { index, tampered } of eachByteFlipped(sealed)) {
      const region = index < 12 ? 'iv' : index >= sealed.length - 16 ? 'tag' : 'ciphertext';
      expect(openError(`${wrappedText}:${tampered.toString('base64')}`).code, `${region} byte ${index}`).toBe('ENVELOPE_DECRYPT_FAILED');
    }
  });

  it('rejects a wrapped key of a size no configured key has', () => {
    const body = sealSeedV1(plaintext, receiver.publicKey);
    const [, sealed] = body.split(':');
    expect(openError(`${Buffer.alloc(128).toString('base64')}:${sealed}`).code).toBe('ENVELOPE_UNKNOWN_KEY');
  });

  it.each([
    ['empty', ''],
    ['no colon', 'QUJD'],
    ['three parts', 'QUJD:QUJD:QUJD'],
    ['not base64', 'QUJD:@@@@'],
    ['unpadded base64', 'QUJD:QUI'],
    ['too short for iv and tag', `${Buffer.alloc(256).toString('base64')}:${Buffer.alloc(27).toString('base64')}`],
    ['a JWE', 'a.b.c.d.e'],
  ])('rejects a malformed body: %s', (_name, body) => {
    expect(openError(body).code).toBe('ENVELOPE_MALFORMED');
  });
});
