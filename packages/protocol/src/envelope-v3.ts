import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { ContentKeys } from './content-keys.js';
import { COPY_CONTENT_TYPE } from './copy-payload.js';
import { decryptFailed } from './envelope-errors.js';
import { type DecryptionKey, type RecipientKey, V2_CONTENT_ENCRYPTION, V2_CONTENT_TYPE, V2_KEY_ALGORITHM } from './envelope-v2.js';
import { ProtocolError } from './errors.js';
import type { KeyId } from './keys.js';
import { SLICE_BYTES, yieldToLoop } from './loop-slices.js';
import { unwrapContentKey, type UnwrappedKeyCache } from './unwrapped-key-cache.js';

/**
 * Wire format v3: the v2 cryptography (RSA-OAEP-256 key wrap, AES-256-GCM, kid) in a binary,
 * length-prefixed frame instead of base64url text. Nothing is encoded or decoded on either
 * side: the ciphertext is sent as it comes out of AES and read where it lies in the request
 * body. docs/protocol.md, "Body: wire format v3", describes it byte for byte:
 *
 *   "STX" 0x03 | u16 H | header (H bytes, canonical JSON) | u16 K | wrapped key (K) | IV (12) | u32 C | ciphertext (C) | tag (16)
 *
 * (big-endian lengths). The additional authenticated data is every byte before the ciphertext,
 * so the tag covers the frame's header, key and IV as well as the ciphertext.
 */
export const V3_MEDIA_TYPE = 'application/vnd.storx.envelope.v3';
export const V3_MAGIC = Buffer.from('STX', 'ascii');
export const V3_VERSION = 3;

const IV_BYTES = 12;
const TAG_BYTES = 16;
const CONTENT_KEY_BYTES = 32;
const MAX_HEADER_BYTES = 1024;
// RSA 2048 to 8192 bits.
const MIN_WRAPPED_KEY_BYTES = 256;
const MAX_WRAPPED_KEY_BYTES = 1024;
const ALLOWED_HEADER_MEMBERS = new Set(['alg', 'enc', 'kid', 'cty']);

/**
 * What a v3 plaintext can be, named by the header's `cty`: a batch's JSON, or a table-copy chunk
 * whose rows are COPY text (copy-payload.ts).
 */
export const V3_CONTENT_TYPES: readonly string[] = Object.freeze([V2_CONTENT_TYPE, COPY_CONTENT_TYPE]);

/** The protected header, exactly as the sender writes it and a receiver requires it (member order and all). */
export function v3Header(kid: KeyId | string, contentType: string = V2_CONTENT_TYPE): Buffer {
  return Buffer.from(JSON.stringify({ alg: V2_KEY_ALGORITHM, enc: V2_CONTENT_ENCRYPTION, kid, cty: contentType }), 'utf8');
}

/**
 * Seals `plaintext` for `recipient` as one v3 frame. A sender passes its `contentKeys`: the
 * content key is shared by many frames (content-keys.ts), each with its own random IV; without,
 * the frame gets a key of its own.
 */
export function sealV3(plaintext: Uint8Array, recipient: RecipientKey, contentKeys: ContentKeys = new ContentKeys(), contentType: string = V2_CONTENT_TYPE): Buffer {
  const header = v3Header(recipient.kid, contentType);
  const { key, wrapped } = contentKeys.next(recipient, plaintext.byteLength);
  if (plaintext.byteLength > 0xffffffff) throw new RangeError('a v3 frame holds at most 4 GiB of ciphertext');
  const iv = randomBytes(IV_BYTES);
  const prefix = Buffer.allocUnsafe(4 + 2 + header.length + 2 + wrapped.length + IV_BYTES + 4);
  let at = V3_MAGIC.copy(prefix, 0);
  at = prefix.writeUInt8(V3_VERSION, at);
  at = prefix.writeUInt16BE(header.length, at);
  at += header.copy(prefix, at);
  at = prefix.writeUInt16BE(wrapped.length, at);
  at += wrapped.copy(prefix, at);
  at += iv.copy(prefix, at);
  prefix.writeUInt32BE(plaintext.byteLength, at);
  const cipher = createCipheriv('aes-256-gcm', key, iv, { authTagLength: TAG_BYTES });
  cipher.setAAD(prefix);
  const ciphertext = cipher.update(plaintext);
  const final = cipher.final();
  return Buffer.concat([prefix, ciphertext, final, cipher.getAuthTag()], prefix.length + plaintext.byteLength + TAG_BYTES);
}

/** The parts of a v3 frame, as views into the body (nothing copied). */
export interface V3Frame {
  header: Record<string, unknown>;
  kid: string;
  /** The header's `cty`: one of V3_CONTENT_TYPES. */
  contentType: string;
  wrappedKey: Buffer;
  iv: Buffer;
  /** Every byte before the ciphertext: the additional authenticated data. */
  aad: Buffer;
  ciphertext: Buffer;
  tag: Buffer;
}

/**
 * Reads and checks a v3 frame's structure and header, before any key is touched: magic and
 * version, every length inside the body and the body exactly as long as they add up to, the
 * header in its canonical form with only the allowed algorithms. Throws ENVELOPE_MALFORMED or
 * ENVELOPE_ALGORITHM_NOT_ALLOWED.
 */
export function parseV3Frame(body: Uint8Array): V3Frame {
  const bytes = Buffer.isBuffer(body) ? body : Buffer.from(body.buffer, body.byteOffset, body.byteLength);
  const need = (end: number, what: string): void => {
    if (end > bytes.length) throw malformed(`truncated: the body ends inside the ${what} (${bytes.length} bytes)`);
  };
  need(6, 'frame prefix');
  if (!bytes.subarray(0, 3).equals(V3_MAGIC)) throw malformed('not a v3 frame: it must start with "STX"');
  if (bytes[3] !== V3_VERSION) throw malformed(`frame version ${bytes[3]} is not ${V3_VERSION}`);
  const headerLength = bytes.readUInt16BE(4);
  if (headerLength === 0 || headerLength > MAX_HEADER_BYTES) throw malformed(`protected header length ${headerLength} is outside 1-${MAX_HEADER_BYTES}`);
  const headerStart = 6;
  const keyLengthAt = headerStart + headerLength;
  need(keyLengthAt + 2, 'protected header');
  const headerBytes = bytes.subarray(headerStart, keyLengthAt);
  const header = decodeHeader(headerBytes);
  const wrappedLength = bytes.readUInt16BE(keyLengthAt);
  if (wrappedLength < MIN_WRAPPED_KEY_BYTES || wrappedLength > MAX_WRAPPED_KEY_BYTES) throw malformed(`wrapped key length ${wrappedLength} is outside ${MIN_WRAPPED_KEY_BYTES}-${MAX_WRAPPED_KEY_BYTES} (RSA 2048-8192 bits)`);
  const wrappedStart = keyLengthAt + 2;
  const ivStart = wrappedStart + wrappedLength;
  const lengthAt = ivStart + IV_BYTES;
  need(lengthAt + 4, 'wrapped key and IV');
  const ciphertextLength = bytes.readUInt32BE(lengthAt);
  const ciphertextStart = lengthAt + 4;
  const tagStart = ciphertextStart + ciphertextLength;
  need(tagStart + TAG_BYTES, 'ciphertext and tag');
  if (tagStart + TAG_BYTES !== bytes.length) throw malformed(`${bytes.length - tagStart - TAG_BYTES} bytes follow the tag`);
  return {
    header,
    kid: header.kid as string,
    contentType: header.cty as string,
    wrappedKey: bytes.subarray(wrappedStart, ivStart),
    iv: bytes.subarray(ivStart, lengthAt),
    aad: bytes.subarray(0, ciphertextStart),
    ciphertext: bytes.subarray(ciphertextStart, tagStart),
    tag: bytes.subarray(tagStart),
  };
}

export interface OpenV3Options {
  /** Content keys already unwrapped (only on a request whose signature verified). */
  unwrappedKeys?: UnwrappedKeyCache;
  /**
   * Decrypt into the body's own ciphertext bytes (default false: into a new Buffer). A receiver
   * that holds the body only to open it saves a body-sized allocation; the body is garbage after.
   */
  inPlace?: boolean;
}

/**
 * Opens a v3 frame with the private key its `kid` names: structure and header first (no key
 * touched for a malformed or downgraded frame), then the content key (from the cache when
 * given), then AES-256-GCM a slice at a time with the event loop free in between. Throws
 * ENVELOPE_MALFORMED, ENVELOPE_ALGORITHM_NOT_ALLOWED, ENVELOPE_UNKNOWN_KEY or
 * ENVELOPE_DECRYPT_FAILED (all 401 on a receiver).
 */
export async function openV3(body: Uint8Array, keys: readonly DecryptionKey[], options: OpenV3Options = {}): Promise<Buffer> {
  return (await openV3Frame(body, keys, options)).plaintext;
}

/** `openV3`, with the frame's `cty` (what its plaintext is). */
export async function openV3Frame(body: Uint8Array, keys: readonly DecryptionKey[], options: OpenV3Options = {}): Promise<{ plaintext: Buffer; contentType: string }> {
  const frame = parseV3Frame(body);
  const match = keys.find((candidate) => candidate.kid === frame.kid);
  if (!match) throw new ProtocolError('ENVELOPE_UNKNOWN_KEY', `no private key with kid ${JSON.stringify(frame.kid)} is configured`);
  if ((match.key.asymmetricKeyDetails?.modulusLength ?? 0) / 8 !== frame.wrappedKey.length) {
    throw malformed(`the wrapped key is ${frame.wrappedKey.length} bytes; the key ${frame.kid} wraps into ${(match.key.asymmetricKeyDetails?.modulusLength ?? 0) / 8}`);
  }
  let contentKey: Buffer;
  try {
    contentKey = options.unwrappedKeys === undefined ? unwrapContentKey(match.key, frame.wrappedKey) : options.unwrappedKeys.unwrap(match.kid, match.key, frame.wrappedKey);
  } catch (cause) {
    throw decryptFailed(cause);
  }
  if (contentKey.length !== CONTENT_KEY_BYTES) throw decryptFailed();
  const output = options.inPlace ? frame.ciphertext : Buffer.allocUnsafe(frame.ciphertext.length);
  try {
    const decipher = createDecipheriv('aes-256-gcm', contentKey, frame.iv, { authTagLength: TAG_BYTES });
    decipher.setAAD(frame.aad);
    decipher.setAuthTag(frame.tag);
    // AES-GCM is a stream mode: each slice decrypts to as many bytes, in place of its ciphertext.
    for (let at = 0; at < frame.ciphertext.length; at += SLICE_BYTES) {
      if (at > 0) await yieldToLoop();
      decipher.update(frame.ciphertext.subarray(at, at + SLICE_BYTES)).copy(output, at);
    }
    decipher.final();
  } catch (cause) {
    if (options.inPlace) output.fill(0);
    throw decryptFailed(cause);
  }
  return { plaintext: output, contentType: frame.contentType };
}

function decodeHeader(bytes: Buffer): Record<string, unknown> {
  let header: unknown;
  try {
    header = JSON.parse(bytes.toString('utf8'));
  } catch (cause) {
    throw new ProtocolError('ENVELOPE_MALFORMED', 'v3 protected header is not JSON', { cause });
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) throw malformed('v3 protected header is not a JSON object');
  const record = header as Record<string, unknown>;
  for (const member of Object.keys(record)) {
    if (!ALLOWED_HEADER_MEMBERS.has(member)) throw new ProtocolError('ENVELOPE_ALGORITHM_NOT_ALLOWED', `protected header member ${JSON.stringify(member)} is not allowed`);
  }
  if (record.alg !== V2_KEY_ALGORITHM || record.enc !== V2_CONTENT_ENCRYPTION || typeof record.cty !== 'string' || !V3_CONTENT_TYPES.includes(record.cty)) {
    throw new ProtocolError(
      'ENVELOPE_ALGORITHM_NOT_ALLOWED',
      `alg ${JSON.stringify(record.alg)} / enc ${JSON.stringify(record.enc)} / cty ${JSON.stringify(record.cty)} not allowed; only ${V2_KEY_ALGORITHM} / ${V2_CONTENT_ENCRYPTION} / ${V3_CONTENT_TYPES.join(' or ')}`,
    );
  }
  if (typeof record.kid !== 'string' || !/^[A-Za-z0-9_-]{1,128}$/.test(record.kid)) throw malformed('v3 protected header kid must be a key thumbprint (base64url)');
  // One spelling only: no whitespace, no repeated member (JSON.parse keeps the last), this order.
  if (!v3Header(record.kid, record.cty).equals(bytes)) throw malformed('v3 protected header is not in its canonical form {"alg":...,"enc":...,"kid":...,"cty":...}');
  return record;
}

function malformed(why: string): ProtocolError {
  return new ProtocolError('ENVELOPE_MALFORMED', `v3 envelope: ${why}`);
}
