import { constants, createCipheriv, createDecipheriv, type KeyObject, publicEncrypt, randomBytes } from 'node:crypto';
import type { ContentKeys } from './content-keys.js';
import { ProtocolError } from './errors.js';
import { SLICE_BYTES, yieldToLoop } from './loop-slices.js';
import type { KeyId } from './keys.js';
import { unwrapContentKey, type UnwrappedKeyCache } from './unwrapped-key-cache.js';
import { decryptFailed } from './envelope-errors.js';

/** The only key-management and content-encryption algorithms v2 produces or accepts. */
export const V2_KEY_ALGORITHM = 'RSA-OAEP-256';
export const V2_CONTENT_ENCRYPTION = 'A256GCM';
/** `cty` of the protected header: the plaintext is a batch as JSON. */
export const V2_CONTENT_TYPE = 'storx-batch+json';
/** HTTP Content-Type of a v2 request body. */
export const V2_MEDIA_TYPE = 'application/jose';

const BASE64URL = /^[A-Za-z0-9_-]+$/;
const ALLOWED_HEADER_MEMBERS = new Set(['alg', 'enc', 'kid', 'cty']);

export interface RecipientKey {
  /** The receiver's RSA public key. */
  key: KeyObject;
  kid: KeyId;
}

export interface DecryptionKey {
  /** One of the receiver's RSA private keys. */
  key: KeyObject;
  kid: KeyId;
}

/**
 * Encrypts `plaintext` as a JWE compact serialization for `recipient` (RFC 7516 §5.1, kid in the
 * protected header). Built on node:crypto directly rather than jose: jose encodes and decodes
 * base64url in JavaScript, which measured ~1 s per 100k replicated rows on each side and most
 * of the garbage; OpenSSL and Buffer do the same work natively. jose and node-forge, two
 * independent implementations, check both directions in the tests.
 *
 * With `contentKeys`, the content key (and its encrypted form) is shared by many envelopes
 * (content-keys.ts), each with its own random IV; without, each envelope has its own.
 */
export function sealV2(plaintext: Uint8Array, recipient: RecipientKey, contentKeys?: ContentKeys): Promise<string> {
  const header = Buffer.from(JSON.stringify({ alg: V2_KEY_ALGORITHM, enc: V2_CONTENT_ENCRYPTION, kid: recipient.kid, cty: V2_CONTENT_TYPE })).toString('base64url');
  const shared = contentKeys?.next(recipient, plaintext.byteLength);
  const contentKey = shared?.key ?? randomBytes(32);
  const iv = randomBytes(12);
  const encryptedKey = shared?.wrapped ?? publicEncrypt({ key: recipient.key, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' }, contentKey);
  const cipher = createCipheriv('aes-256-gcm', contentKey, iv, { authTagLength: 16 });
  // The additional authenticated data is the ASCII of the encoded protected header.
  cipher.setAAD(Buffer.from(header, 'ascii'));
  const ciphertext = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return Promise.resolve(`${header}.${encryptedKey.toString('base64url')}.${iv.toString('base64url')}.${ciphertext.toString('base64url')}.${cipher.getAuthTag().toString('base64url')}`);
}

/**
 * Decrypts a v2 body with the private key its `kid` names. The protected header is checked
 * against the allowlist before any key is touched: a downgrade (RSA1_5, `dir`, another
 * `enc`, `zip`, `crit`) is refused, never attempted. Every part must be canonical base64url.
 * The ciphertext (up to body-limit bytes) is decoded and decrypted a slice at a time, with the
 * event loop free in between (see loop-slices.ts). With `unwrappedKeys` (only on a request whose
 * signature verified), an encrypted key seen before is not unwrapped again.
 */
export async function openV2(body: string | Uint8Array, keys: readonly DecryptionKey[], unwrappedKeys?: UnwrappedKeyCache): Promise<Uint8Array> {
  // A JWE is ASCII; a string (a sender's, in tests) with anything else can never be one.
  if (typeof body === 'string' && Buffer.byteLength(body, 'utf8') !== body.length) throw new ProtocolError('ENVELOPE_MALFORMED', 'body is not a JWE compact serialization (not ASCII)');
  const bytes = typeof body === 'string' ? Buffer.from(body, 'latin1') : Buffer.from(body.buffer, body.byteOffset, body.byteLength);
  const dots: number[] = [];
  for (let at = bytes.indexOf(DOT); at !== -1 && dots.length < 5; at = bytes.indexOf(DOT, at + 1)) dots.push(at);
  if (dots.length !== 4 || dots[0] === 0) throw new ProtocolError('ENVELOPE_MALFORMED', 'body is not a JWE compact serialization (five base64url parts)');
  const [headerEnd, keyEnd, ivEnd, ciphertextEnd] = dots as [number, number, number, number];
  // Bytes are read as latin1: one character per byte, nothing decoded; a byte outside
  // base64url then fails the checks below like any other stray character.
  const headerPart = bytes.toString('latin1', 0, headerEnd);
  if (!BASE64URL.test(headerPart)) throw new ProtocolError('ENVELOPE_MALFORMED', 'JWE protected header is not base64url');
  const header = decodeHeader(headerPart);
  for (const member of Object.keys(header)) {
    if (!ALLOWED_HEADER_MEMBERS.has(member)) {
      throw new ProtocolError('ENVELOPE_ALGORITHM_NOT_ALLOWED', `protected header member ${JSON.stringify(member)} is not allowed`);
    }
  }
  if (header.alg !== V2_KEY_ALGORITHM || header.enc !== V2_CONTENT_ENCRYPTION) {
    throw new ProtocolError(
      'ENVELOPE_ALGORITHM_NOT_ALLOWED',
      `alg ${JSON.stringify(header.alg)} / enc ${JSON.stringify(header.enc)} not allowed; only ${V2_KEY_ALGORITHM} / ${V2_CONTENT_ENCRYPTION}`,
    );
  }
  const match = keys.find((candidate) => candidate.kid === header.kid);
  if (!match) throw new ProtocolError('ENVELOPE_UNKNOWN_KEY', `no private key with kid ${JSON.stringify(header.kid)} is configured`);

  const encryptedKey = canonicalBase64url(bytes.toString('latin1', headerEnd + 1, keyEnd), 'encrypted key');
  const iv = canonicalBase64url(bytes.toString('latin1', keyEnd + 1, ivEnd), 'iv');
  const ciphertext = await canonicalBase64urlInSlices(bytes, ivEnd + 1, ciphertextEnd, 'ciphertext');
  const tag = canonicalBase64url(bytes.toString('latin1', ciphertextEnd + 1), 'tag');
  if (iv.length !== 12 || tag.length !== 16) throw new ProtocolError('ENVELOPE_MALFORMED', 'A256GCM needs a 96-bit iv and a 128-bit tag');
  let contentKey: Buffer;
  try {
    contentKey = unwrappedKeys === undefined ? unwrapContentKey(match.key, encryptedKey) : unwrappedKeys.unwrap(match.kid, match.key, encryptedKey);
  } catch (cause) {
    throw decryptFailed(cause);
  }
  if (contentKey.length !== 32) throw decryptFailed();
  try {
    const decipher = createDecipheriv('aes-256-gcm', contentKey, iv, { authTagLength: 16 });
    decipher.setAAD(Buffer.from(headerPart, 'ascii'));
    decipher.setAuthTag(tag);
    // AES-GCM is a stream mode: each slice decrypts to as many bytes, in place of its ciphertext.
    for (let at = 0; at < ciphertext.length; at += SLICE_BYTES) {
      if (at > 0) await yieldToLoop();
      const slice = ciphertext.subarray(at, at + SLICE_BYTES);
      decipher.update(slice).copy(slice);
    }
    decipher.final();
    return ciphertext;
  } catch (cause) {
    throw decryptFailed(cause);
  }
}

const DOT = 0x2e;

/**
 * canonicalBase64url over `bytes[start, end)`, a slice of SLICE_BYTES characters (a multiple of
 * four) at a time: a text is canonical exactly when each four-aligned slice is (the last one
 * with the rules for the end), so the verdict and the bytes are those of the whole.
 */
async function canonicalBase64urlInSlices(bytes: Buffer, start: number, end: number, what: string): Promise<Buffer> {
  if (end - start <= SLICE_BYTES) return canonicalBase64url(bytes.toString('latin1', start, end), what);
  const decoded = Buffer.allocUnsafe(Math.floor(((end - start) * 3) / 4));
  let written = 0;
  for (let at = start; at < end; at += SLICE_BYTES) {
    if (at > start) await yieldToLoop();
    written += canonicalBase64url(bytes.toString('latin1', at, Math.min(end, at + SLICE_BYTES)), what).copy(decoded, written);
  }
  return decoded;
}

const BASE64URL_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

/**
 * Decodes base64url and refuses anything but its one canonical spelling (no stray characters,
 * no padding), without encoding the result again to compare (two more copies of a ciphertext
 * of up to the body limit). Node's decoder skips characters outside the alphabet and also
 * reads `+` and `/`, so: a canonical spelling decodes to exactly ⌊length·3/4⌋ bytes (any
 * skipped character makes it shorter; a length of 4k+1 is never valid), holds neither `+` nor
 * `/`, and leaves the unused low bits of its last character zero.
 */
function canonicalBase64url(part: string, what: string): Buffer {
  const bytes = Buffer.from(part, 'base64url');
  const rest = part.length % 4;
  const lastValue = BASE64URL_ALPHABET.indexOf(part.at(-1) ?? '');
  const strayBits = rest === 2 ? lastValue & 0x0f : rest === 3 ? lastValue & 0x03 : 0;
  if (part === '' || rest === 1 || bytes.length !== Math.floor((part.length * 3) / 4) || part.includes('+') || part.includes('/') || strayBits !== 0) {
    throw new ProtocolError('ENVELOPE_MALFORMED', `JWE ${what} is not canonical base64url`);
  }
  return bytes;
}


function decodeHeader(segment: string): Record<string, unknown> {
  let header: unknown;
  try {
    header = JSON.parse(Buffer.from(segment, 'base64url').toString('utf8'));
  } catch (cause) {
    throw new ProtocolError('ENVELOPE_MALFORMED', 'JWE protected header is not base64url JSON', { cause });
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) {
    throw new ProtocolError('ENVELOPE_MALFORMED', 'JWE protected header is not a JSON object');
  }
  return header as Record<string, unknown>;
}
