import { type KeyObject, sign, verify } from 'node:crypto';
import { promisify } from 'node:util';
import { ProtocolError } from './errors.js';
import type { KeyId } from './keys.js';
import {
  bodyDigest,
  bodyDigestInSlices,
  DIGEST_SIGNATURE_VERSION,
  digestSignedContent,
  fullSignedContent,
  fullSignedContentInSlices,
  SIGNATURE_VERSION,
  type SignatureScheme,
} from './signed-content.js';

export { bodyDigest, DIGEST_SIGNATURE_VERSION, SIGNATURE_SCHEMES, SIGNATURE_VERSION, type SignatureScheme } from './signed-content.js';

/** Standard Webhooks header names. */
export const WEBHOOK_ID_HEADER = 'webhook-id';
export const WEBHOOK_TIMESTAMP_HEADER = 'webhook-timestamp';
export const WEBHOOK_SIGNATURE_HEADER = 'webhook-signature';

/** Default allowed clock difference between sender and receiver, in seconds. */
export const DEFAULT_TIMESTAMP_TOLERANCE_SECONDS = 300;

// No '.' in ids: the signed string joins id, timestamp and body with '.', and a dot in the
// id would let one signed string be split into different (id, timestamp, body) triples.
const ID_PATTERN = /^[A-Za-z0-9_:-]{1,256}$/;
const TIMESTAMP_PATTERN = /^[0-9]{1,12}$/;
const BASE64_PATTERN = /^[A-Za-z0-9+/]+={0,2}$/;
const ED25519_SIGNATURE_BYTES = 64;
// Entries of any version; other versions are skipped unchecked.
const MAX_SIGNATURES = 4;
/**
 * Entries checked at most per scheme: two cover a key rotation (the old and the new key). More
 * only multiply the unauthenticated work: each `v1a` entry is checked against each trusted key
 * over the whole body (about 90 ms for a 64 MiB body on these machines), so a third is refused
 * (400) before the body is even read. (`v1d` entries share one digest of the body, but are held
 * to the same count: a rotation needs no more.)
 */
export const MAX_CHECKED_SIGNATURES = 2;

// A type alias, not an interface, so that it is assignable to a plain header record.
export type WebhookHeaders = {
  'webhook-id': string;
  'webhook-timestamp': string;
  'webhook-signature': string;
};

export interface SignInput {
  /** Stable across retries of the same batch. */
  id: string;
  /** Unix seconds; taken anew for each attempt. */
  timestamp: number;
  body: Uint8Array | string;
  /** One key normally; the old and the new key during a rotation. */
  signingKeys: readonly KeyObject[];
  /**
   * `v1a` (default: what every receiver verifies) signs the whole body; `v1d` signs its SHA-256,
   * for receivers that advertise it (docs/protocol.md).
   */
  scheme?: SignatureScheme;
  /** For `v1d`: the body's SHA-256 if already known (made once per batch, not per attempt). */
  bodyDigest?: Uint8Array;
}

/**
 * Signs the request with every given Ed25519 key, in the given scheme (space-separated
 * `v1a,<base64>` or `v1d,<base64>` entries).
 */
export function signWebhook(input: SignInput): WebhookHeaders {
  if (!ID_PATTERN.test(input.id)) throw new RangeError(`webhook id ${JSON.stringify(input.id)} must be 1-256 of A-Z a-z 0-9 _ : -`);
  if (!Number.isSafeInteger(input.timestamp) || input.timestamp < 0) throw new RangeError(`webhook timestamp must be unix seconds, got ${input.timestamp}`);
  if (input.signingKeys.length === 0) throw new RangeError('at least one signing key is required');
  const scheme = input.scheme ?? SIGNATURE_VERSION;
  const timestamp = String(input.timestamp);
  const content = scheme === DIGEST_SIGNATURE_VERSION ? digestSignedContent(input.id, timestamp, input.bodyDigest ?? bodyDigest(input.body)) : fullSignedContent(input.id, timestamp, input.body);
  const signatures = input.signingKeys.map((key) => `${scheme},${sign(null, content, key).toString('base64')}`);
  return { 'webhook-id': input.id, 'webhook-timestamp': timestamp, 'webhook-signature': signatures.join(' ') };
}

export interface VerifyInput {
  headers: Readonly<Record<string, string | readonly string[] | undefined>>;
  body: Uint8Array | string;
  /** Public keys of the senders this receiver trusts, with their thumbprints. */
  trustedKeys: readonly TrustedKey[];
  toleranceSeconds?: number;
  /** Unix seconds; defaults to the clock. */
  now?: number;
}

export interface TrustedKey {
  key: KeyObject;
  kid: KeyId;
}

export interface VerifiedWebhook {
  id: string;
  timestamp: number;
  /** Thumbprint of the trusted key whose signature verified. */
  signerKid: KeyId;
  /** The scheme of the entry that verified. */
  scheme: SignatureScheme;
}

/** One signature entry to check, decoded. */
export interface CheckedSignature {
  scheme: SignatureScheme;
  signature: Buffer;
}

/** The webhook headers, checked: what is left to do is the signature over the body. */
export interface CheckedWebhookHeaders {
  id: string;
  timestamp: number;
  /** The header as sent: the signature covers this text (leading zeros and all). */
  timestampText: string;
  /**
   * The `v1d` and `v1a` signatures to check (at most MAX_CHECKED_SIGNATURES of each), decoded,
   * `v1d` first: it costs one digest of the body for all of them.
   */
  signatures: readonly CheckedSignature[];
}

export type HeaderCheckInput = Pick<VerifyInput, 'headers' | 'toleranceSeconds' | 'now'>;

/**
 * Everything that can be checked before the body is read: the three headers present and well
 * formed, the timestamp inside the window, at least one and at most MAX_CHECKED_SIGNATURES
 * `v1a` (and as many `v1d`) entries. A receiver calls this as soon as the headers arrive, so
 * that a caller without them costs nothing more. Throws WEBHOOK_MISSING_HEADER /
 * WEBHOOK_MALFORMED_HEADER (400), WEBHOOK_TIMESTAMP_TOO_OLD / _IN_FUTURE /
 * WEBHOOK_SIGNATURE_INVALID (no v1a or v1d entry, 401).
 */
export function checkWebhookHeaders(input: HeaderCheckInput): CheckedWebhookHeaders {
  const id = header(input.headers, WEBHOOK_ID_HEADER);
  const timestampText = header(input.headers, WEBHOOK_TIMESTAMP_HEADER);
  const signatureText = header(input.headers, WEBHOOK_SIGNATURE_HEADER);
  if (!ID_PATTERN.test(id)) throw malformed(WEBHOOK_ID_HEADER, 'must be 1-256 of A-Z a-z 0-9 _ : -');
  if (!TIMESTAMP_PATTERN.test(timestampText)) throw malformed(WEBHOOK_TIMESTAMP_HEADER, 'must be unix seconds');

  const timestamp = Number(timestampText);
  const now = input.now ?? Math.floor(Date.now() / 1000);
  const tolerance = input.toleranceSeconds ?? DEFAULT_TIMESTAMP_TOLERANCE_SECONDS;
  if (timestamp < now - tolerance) {
    throw new ProtocolError('WEBHOOK_TIMESTAMP_TOO_OLD', `webhook-timestamp ${timestamp} is ${now - timestamp}s old; tolerance is ${tolerance}s (check both clocks)`);
  }
  if (timestamp > now + tolerance) {
    throw new ProtocolError('WEBHOOK_TIMESTAMP_IN_FUTURE', `webhook-timestamp ${timestamp} is ${timestamp - now}s ahead; tolerance is ${tolerance}s (check both clocks)`);
  }
  return { id, timestamp, timestampText, signatures: parseSignatures(signatureText) };
}

/**
 * Checks headers, then the timestamp window, then the signatures against the trust list.
 * Throws a ProtocolError: WEBHOOK_MISSING_HEADER / WEBHOOK_MALFORMED_HEADER (400),
 * WEBHOOK_TIMESTAMP_TOO_OLD / _IN_FUTURE / WEBHOOK_SIGNATURE_INVALID (401).
 * Entries with another version tag (such as HMAC `v1`) are ignored, as the spec asks.
 * Synchronous: a receiver uses `verifyWebhookOffLoop`, which keeps its event loop free.
 */
export function verifyWebhook(input: VerifyInput): VerifiedWebhook {
  const checked = checkWebhookHeaders(input);
  let digestContent: Buffer | undefined;
  let fullContent: Buffer | undefined;
  for (const { scheme, signature } of checked.signatures) {
    const content =
      scheme === DIGEST_SIGNATURE_VERSION
        ? (digestContent ??= digestSignedContent(checked.id, checked.timestampText, bodyDigest(input.body)))
        : (fullContent ??= fullSignedContent(checked.id, checked.timestampText, input.body));
    for (const trusted of input.trustedKeys) {
      if (verify(null, content, trusted.key, signature)) return { id: checked.id, timestamp: checked.timestamp, signerKid: trusted.kid, scheme };
    }
  }
  throw signatureInvalid();
}

const verifyInThreadPool = promisify(verify) as (algorithm: null, data: Buffer, key: KeyObject, signature: Buffer) => Promise<boolean>;

/**
 * `verifyWebhook` with the event loop free: a `v1d` entry hashes the body a few MiB at a time
 * and then verifies ~330 bytes (tens of µs, on the loop: a thread-pool hop costs more); each
 * `v1a` check runs on libuv's thread pool (node:crypto's callback form), because over a 64 MiB
 * body one takes ~90 ms, which the event loop (and /healthz) must not wait for. The body stays
 * the Buffer it arrived as: no string, no re-encoding.
 */
export async function verifyWebhookOffLoop(input: VerifyInput): Promise<VerifiedWebhook> {
  const checked = checkWebhookHeaders(input);
  let digestContent: Buffer | undefined;
  let fullContent: Buffer | undefined;
  for (const { scheme, signature } of checked.signatures) {
    if (scheme === DIGEST_SIGNATURE_VERSION) {
      digestContent ??= digestSignedContent(checked.id, checked.timestampText, await bodyDigestInSlices(input.body));
      for (const trusted of input.trustedKeys) {
        if (verify(null, digestContent, trusted.key, signature)) return { id: checked.id, timestamp: checked.timestamp, signerKid: trusted.kid, scheme };
      }
      continue;
    }
    fullContent ??= await fullSignedContentInSlices(checked.id, checked.timestampText, input.body);
    for (const trusted of input.trustedKeys) {
      if (await verifyInThreadPool(null, fullContent, trusted.key, signature)) return { id: checked.id, timestamp: checked.timestamp, signerKid: trusted.kid, scheme };
    }
  }
  throw signatureInvalid();
}

function signatureInvalid(): ProtocolError {
  return new ProtocolError('WEBHOOK_SIGNATURE_INVALID', `no ${DIGEST_SIGNATURE_VERSION} or ${SIGNATURE_VERSION} signature verifies with a trusted sender key`);
}

function parseSignatures(text: string): CheckedSignature[] {
  const entries = text.split(' ').filter((entry) => entry !== '');
  if (entries.length === 0 || entries.length > MAX_SIGNATURES) {
    throw malformed(WEBHOOK_SIGNATURE_HEADER, `must hold 1-${MAX_SIGNATURES} space-separated "version,signature" entries`);
  }
  const digest: CheckedSignature[] = [];
  const full: CheckedSignature[] = [];
  for (const entry of entries) {
    const comma = entry.indexOf(',');
    if (comma <= 0) throw malformed(WEBHOOK_SIGNATURE_HEADER, `entry ${JSON.stringify(entry.slice(0, 20))} is not "version,signature"`);
    const version = entry.slice(0, comma);
    if (version !== SIGNATURE_VERSION && version !== DIGEST_SIGNATURE_VERSION) continue;
    const encoded = entry.slice(comma + 1);
    const signature = BASE64_PATTERN.test(encoded) ? Buffer.from(encoded, 'base64') : undefined;
    if (signature?.length !== ED25519_SIGNATURE_BYTES) {
      throw malformed(WEBHOOK_SIGNATURE_HEADER, `a ${version} signature must be ${ED25519_SIGNATURE_BYTES} bytes of standard base64`);
    }
    const list = version === DIGEST_SIGNATURE_VERSION ? digest : full;
    list.push({ scheme: version, signature });
    if (list.length > MAX_CHECKED_SIGNATURES) throw malformed(WEBHOOK_SIGNATURE_HEADER, `holds more than ${MAX_CHECKED_SIGNATURES} ${version} entries (two cover a key rotation)`);
  }
  if (digest.length + full.length === 0) throw new ProtocolError('WEBHOOK_SIGNATURE_INVALID', `webhook-signature has no ${DIGEST_SIGNATURE_VERSION} or ${SIGNATURE_VERSION} entry`);
  return [...digest, ...full];
}

function header(headers: VerifyInput['headers'], name: string): string {
  const value = headers[name];
  if (value === undefined || value === '') throw new ProtocolError('WEBHOOK_MISSING_HEADER', `missing ${name} header`);
  if (typeof value !== 'string') throw malformed(name, 'must appear once');
  return value;
}

function malformed(name: string, why: string): ProtocolError {
  return new ProtocolError('WEBHOOK_MALFORMED_HEADER', `${name} header ${why}`);
}
