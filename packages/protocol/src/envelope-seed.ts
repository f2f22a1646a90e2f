import { constants, createCipheriv, createDecipheriv, type KeyObject, privateDecrypt, publicEncrypt, randomBytes } from 'node:crypto';
import { ProtocolError } from './errors.js';

/**
 * The seed document's envelope, for receivers already written from it:
 *
 *   base64(RSA-OAEP(aesKey)) ":" base64(iv ‖ ciphertext ‖ tag)
 *
 * RSA-OAEP with SHA-256 for both OAEP and MGF1 and an empty label (Go's
 * `rsa.DecryptOAEP(sha256.New(), …, nil)`); AES-256-GCM with a 12-byte IV and a 16-byte tag,
 * no additional data. Standard base64 with padding.
 *
 * It authenticates nothing about the sender (anyone holding the public key can produce
 * one), which is why our sender also signs every request and our receiver refuses unsigned
 * seed messages unless explicitly told otherwise.
 */
export const SEED_MEDIA_TYPE = 'text/plain';

const AES_KEY_BYTES = 32;
const IV_BYTES = 12;
const TAG_BYTES = 16;
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** Encrypts `plaintext` in the seed's format for the receiver's RSA public key. */
export function sealSeedV1(plaintext: Uint8Array, publicKey: KeyObject): string {
  const aesKey = randomBytes(AES_KEY_BYTES);
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv('aes-256-gcm', aesKey, iv, { authTagLength: TAG_BYTES });
  const ciphertext = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  const wrappedKey = publicEncrypt({ key: publicKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' }, aesKey);
  return `${wrappedKey.toString('base64')}:${Buffer.concat([iv, ciphertext, cipher.getAuthTag()]).toString('base64')}`;
}

/**
 * Decrypts a seed-format message with whichever of `privateKeys` it was made for (the format
 * carries no key id, so each key of the right size is tried).
 */
export function openSeedV1(body: string | Uint8Array, privateKeys: readonly KeyObject[]): Buffer {
  // ASCII by definition: latin1 maps each byte to one character, and anything else fails BASE64.
  const text = typeof body === 'string' ? body : Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString('latin1');
  const parts = text.trim().split(':');
  if (parts.length !== 2 || !parts.every((part) => part.length > 0 && BASE64.test(part))) {
    throw new ProtocolError('ENVELOPE_MALFORMED', 'body is not "base64(encryptedKey):base64(iv‖ciphertext‖tag)"');
  }
  const wrappedKey = Buffer.from(parts[0]!, 'base64');
  const sealed = Buffer.from(parts[1]!, 'base64');
  if (sealed.length < IV_BYTES + TAG_BYTES) throw new ProtocolError('ENVELOPE_MALFORMED', 'encrypted payload is shorter than iv and tag');

  const aesKey = unwrapKey(wrappedKey, privateKeys);
  const iv = sealed.subarray(0, IV_BYTES);
  const tag = sealed.subarray(sealed.length - TAG_BYTES);
  const decipher = createDecipheriv('aes-256-gcm', aesKey, iv, { authTagLength: TAG_BYTES });
  decipher.setAuthTag(tag);
  try {
    return Buffer.concat([decipher.update(sealed.subarray(IV_BYTES, sealed.length - TAG_BYTES)), decipher.final()]);
  } catch (cause) {
    throw new ProtocolError('ENVELOPE_DECRYPT_FAILED', 'envelope did not decrypt: wrong key, or the envelope was altered', { cause });
  }
}

function unwrapKey(wrappedKey: Buffer, privateKeys: readonly KeyObject[]): Buffer {
  const candidates = privateKeys.filter((key) => (key.asymmetricKeyDetails?.modulusLength ?? 0) / 8 === wrappedKey.length);
  if (candidates.length === 0) throw new ProtocolError('ENVELOPE_UNKNOWN_KEY', `no private key of ${wrappedKey.length * 8} bits is configured`);
  for (const key of candidates) {
    try {
      const aesKey = privateDecrypt({ key, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' }, wrappedKey);
      if (aesKey.length === AES_KEY_BYTES) return aesKey;
    } catch {
      // Not this key (or tampered); try the next, and answer one generic failure below.
    }
  }
  throw new ProtocolError('ENVELOPE_DECRYPT_FAILED', 'envelope did not decrypt: wrong key, or the envelope was altered');
}
