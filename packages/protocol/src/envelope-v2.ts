import type { KeyObject } from 'node:crypto';
import { CompactEncrypt, compactDecrypt, errors as joseErrors } from 'jose';
import { ProtocolError } from './errors.js';
import type { KeyId } from './keys.js';

/** The only key-management and content-encryption algorithms v2 produces or accepts. */
export const V2_KEY_ALGORITHM = 'RSA-OAEP-256';
export const V2_CONTENT_ENCRYPTION = 'A256GCM';
/** `cty` of the protected header: the plaintext is a batch as JSON. */
export const V2_CONTENT_TYPE = 'storx-batch+json';
/** HTTP Content-Type of a v2 request body. */
export const V2_MEDIA_TYPE = 'application/jose';

// Parts may be empty here (`dir` has no encrypted key) so that the header check below names the
// real problem; jose then refuses anything structurally incomplete.
const COMPACT_JWE = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*$/;
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

/** Encrypts `plaintext` as a JWE compact serialization for `recipient` (kid in the protected header). */
export async function sealV2(plaintext: Uint8Array, recipient: RecipientKey): Promise<string> {
  return new CompactEncrypt(plaintext)
    .setProtectedHeader({ alg: V2_KEY_ALGORITHM, enc: V2_CONTENT_ENCRYPTION, kid: recipient.kid, cty: V2_CONTENT_TYPE })
    .encrypt(recipient.key);
}

/**
 * Decrypts a v2 body with the private key its `kid` names. The protected header is checked
 * against the allowlist before any key is touched: a downgrade (RSA1_5, `dir`, another
 * `enc`, `zip`, `crit`) is refused, never attempted.
 */
export async function openV2(body: string, keys: readonly DecryptionKey[]): Promise<Uint8Array> {
  if (!COMPACT_JWE.test(body)) throw new ProtocolError('ENVELOPE_MALFORMED', 'body is not a JWE compact serialization (five base64url parts)');
  const header = decodeHeader(body.slice(0, body.indexOf('.')));
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
  try {
    const { plaintext } = await compactDecrypt(body, match.key, {
      keyManagementAlgorithms: [V2_KEY_ALGORITHM],
      contentEncryptionAlgorithms: [V2_CONTENT_ENCRYPTION],
    });
    return plaintext;
  } catch (cause) {
    if (cause instanceof joseErrors.JOSEAlgNotAllowed) throw new ProtocolError('ENVELOPE_ALGORITHM_NOT_ALLOWED', cause.message, { cause });
    if (cause instanceof joseErrors.JWEInvalid) throw new ProtocolError('ENVELOPE_MALFORMED', cause.message, { cause });
    throw new ProtocolError('ENVELOPE_DECRYPT_FAILED', 'envelope did not decrypt: wrong key, or the envelope was altered', { cause });
  }
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
