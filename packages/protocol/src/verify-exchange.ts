import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { z } from 'zod';
import { type DecryptionKey, openV2, type RecipientKey, sealV2, V2_MEDIA_TYPE } from './envelope-v2.js';
import { ProtocolError } from './errors.js';
import { isLsnText } from './lsn.js';
import { formatIssuePath } from './payload-codec.js';
import { type TrustedKey, type VerifiedWebhook, verifyWebhookOffLoop } from './signature.js';
import type { SealedRequest } from './webhook-request.js';

/**
 * The verify exchange (docs/protocol.md, "Verify"): the sender asks the receiver for the digest
 * of key ranges of one backup table. Key bounds are row data, so the request is sealed to the
 * receiver exactly like a batch (JWE v2) and signed per attempt; the answer is sealed with
 * AES-256-GCM under a fresh key the request carries inside its encryption, with the request's
 * webhook-id as additional data: only the holder of the receiver's private key can have made
 * it, only the sender can read it, and it cannot be passed off as the answer to another request.
 */

/** Path of the verify route on the receiver, beside /webhook. */
export const VERIFY_PATH = '/verify';
/** Largest verify request body a receiver reads (key bounds of at most MAX_VERIFY_RANGES ranges). */
export const VERIFY_BODY_LIMIT_BYTES = 1024 * 1024;
/** Ranges per request at most. */
export const MAX_VERIFY_RANGES = 100;
/** ranges × max_rows_per_range at most: the rows one request may make the receiver read. */
export const MAX_VERIFY_ROWS_PER_REQUEST = 2_000_000;

const KEY_VALUES = z.array(z.string().max(64 * 1024)).min(1).max(32);
const IDENTIFIER = z.string().min(1).max(63 * 4);

const VERIFY_REQUEST = z
  .strictObject({
    type: z.literal('verify'),
    source_id: z.string().min(1).max(256),
    slot: z.string().min(1).max(256),
    /** base64url of 32 random bytes: the AES-256-GCM key of the answer. */
    response_key: z.string().regex(/^[A-Za-z0-9_-]{43}$/),
    schema: IDENTIFIER,
    table: IDENTIFIER,
    /** The source's columns in its order: the row text hashed on both sides. */
    columns: z.array(IDENTIFIER).min(1).max(1600),
    /** The source's primary key columns in key order; empty: no key (one range, multiset hash). */
    key: z.array(IDENTIFIER).max(32),
    /** Each range holds the keys k with from ≤ k < to (row comparison in key order); null: unbounded. */
    ranges: z.array(z.strictObject({ from: KEY_VALUES.nullable(), to: KEY_VALUES.nullable() })).min(1).max(MAX_VERIFY_RANGES),
    /** The receiver reads at most this many rows per range; a count above it means "more". */
    max_rows_per_range: z.number().int().min(1),
  })
  .superRefine((request, context) => {
    if (request.ranges.length * request.max_rows_per_range > MAX_VERIFY_ROWS_PER_REQUEST) {
      context.addIssue({ code: 'custom', path: ['max_rows_per_range'], message: `ranges × max_rows_per_range must be at most ${MAX_VERIFY_ROWS_PER_REQUEST}` });
    }
    request.ranges.forEach((range, index) => {
      for (const side of ['from', 'to'] as const) {
        const bound = range[side];
        if (bound !== null && bound.length !== request.key.length) context.addIssue({ code: 'custom', path: ['ranges', index, side], message: `must hold one value per key column (${request.key.length})` });
      }
    });
    if (request.key.length === 0 && request.ranges.length !== 1) context.addIssue({ code: 'custom', path: ['ranges'], message: 'a table without a key is one range' });
  });

export type VerifyRequest = z.infer<typeof VERIFY_REQUEST>;

/** One range's digest on the backup: `count` is capped at max_rows_per_range + 1. */
export interface RangeDigest {
  count: number;
  /** md5 over the row hashes in key order (multiset order for a keyless table); null: no rows. */
  hash: string | null;
}

const VERIFY_RESULT = z.strictObject({
  type: z.literal('verify-result'),
  /** The receiver's watermark for (source_id, slot), read in the snapshot the digests were computed in. */
  watermark_lsn: z.string().refine(isLsnText).nullable(),
  /** "missing": no such backup table; "columns_missing": it lacks some of the columns; else "ok". */
  table: z.enum(['ok', 'missing', 'columns_missing']),
  missing_columns: z.array(z.string()),
  ranges: z.array(z.strictObject({ count: z.number().int().min(0), hash: z.string().regex(/^[0-9a-f]{32}$/).nullable() })),
});

export type VerifyResult = z.infer<typeof VERIFY_RESULT>;

/** The id of a verify request: `<source>:<slot>:verify:<32 random hex digits>`, fresh per request (a receiver refuses an id it has seen). */
export function verifyWebhookId(sourceId: string, slot: string): string {
  return `${sourceId.replaceAll('.', '-')}:${slot}:verify:${randomBytes(16).toString('hex')}`;
}

export interface SealedVerifyRequest extends Omit<SealedRequest, 'body' | 'bodyDigest'> {
  /** A JWE compact serialization (ASCII). */
  body: string;
  /** Opens the answer (openVerifyResult). Never leaves this process in clear. */
  responseKey: Buffer;
}

/** Seals a verify request; `response_key` is generated here (the caller's is ignored). */
export async function sealVerifyRequest(request: Omit<VerifyRequest, 'type' | 'response_key'>, recipient: RecipientKey): Promise<SealedVerifyRequest> {
  const responseKey = randomBytes(32);
  const payload: VerifyRequest = { type: 'verify', ...request, response_key: responseKey.toString('base64url') };
  const body = await sealV2(Buffer.from(JSON.stringify(payload)), recipient);
  return { id: verifyWebhookId(request.source_id, request.slot), body, contentType: V2_MEDIA_TYPE, responseKey };
}

export interface OpenVerifyRequestInput {
  headers: Readonly<Record<string, string | readonly string[] | undefined>>;
  body: Uint8Array;
  trustedKeys: readonly TrustedKey[];
  decryptionKeys: readonly DecryptionKey[];
  toleranceSeconds?: number;
  now?: number;
  /**
   * Runs once the signature verified, before anything is decrypted; throwing refuses the request
   * there (the receiver's replay check: an id seen before).
   */
  onAuthenticated?: (webhook: VerifiedWebhook) => void;
}

/**
 * The receiver's path for a verify request, as for a batch: headers → timestamp → signature →
 * (replay check) → decrypt → schema. Throws a ProtocolError whose `status` is the answer.
 */
export async function openVerifyRequest(input: OpenVerifyRequestInput): Promise<{ webhook: VerifiedWebhook; request: VerifyRequest; responseKey: Buffer }> {
  const webhook = await verifyWebhookOffLoop({ headers: input.headers, body: input.body, trustedKeys: input.trustedKeys, toleranceSeconds: input.toleranceSeconds, now: input.now });
  if (!/^[A-Za-z0-9_-]+:[A-Za-z0-9_-]+:verify:[0-9a-f]{32}$/.test(webhook.id)) throw new ProtocolError('WEBHOOK_MALFORMED_HEADER', 'webhook-id of a verify request must be <source>:<slot>:verify:<32 hex digits>');
  input.onAuthenticated?.(webhook);
  const plaintext = await openV2(input.body, input.decryptionKeys);
  const request = parsePayload(VERIFY_REQUEST, plaintext);
  return { webhook, request, responseKey: Buffer.from(request.response_key, 'base64url') };
}

/** The receiver's answer body: `{"status":"verified","result":"<iv>.<ciphertext>.<tag>"}` (base64url parts). */
export function sealVerifyResult(result: VerifyResult, responseKey: Buffer, requestId: string): { status: 'verified'; result: string } {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', responseKey, iv, { authTagLength: 16 });
  cipher.setAAD(Buffer.from(requestId, 'utf8'));
  const ciphertext = Buffer.concat([cipher.update(JSON.stringify(result), 'utf8'), cipher.final()]);
  return { status: 'verified', result: `${iv.toString('base64url')}.${ciphertext.toString('base64url')}.${cipher.getAuthTag().toString('base64url')}` };
}

/** Opens the receiver's answer to the request `requestId`; ENVELOPE_DECRYPT_FAILED when it does not authenticate. */
export function openVerifyResult(answer: unknown, responseKey: Buffer, requestId: string): VerifyResult {
  const sealed = typeof answer === 'object' && answer !== null && Object.hasOwn(answer, 'result') ? (answer as { result: unknown }).result : undefined;
  const parts = typeof sealed === 'string' ? sealed.split('.') : [];
  if (parts.length !== 3) throw new ProtocolError('ENVELOPE_MALFORMED', 'the verify answer is not {"status":"verified","result":"<iv>.<ciphertext>.<tag>"}');
  const [iv, ciphertext, tag] = parts.map((part) => Buffer.from(part, 'base64url')) as [Buffer, Buffer, Buffer];
  if (iv.length !== 12 || tag.length !== 16) throw new ProtocolError('ENVELOPE_MALFORMED', 'the verify answer needs a 96-bit iv and a 128-bit tag');
  let plaintext: Buffer;
  try {
    const decipher = createDecipheriv('aes-256-gcm', responseKey, iv, { authTagLength: 16 });
    decipher.setAAD(Buffer.from(requestId, 'utf8'));
    decipher.setAuthTag(tag);
    plaintext = Buffer.concat([decipher.update(ciphertext), decipher.final()]);
  } catch (cause) {
    throw new ProtocolError('ENVELOPE_DECRYPT_FAILED', 'the verify answer did not authenticate under this request\'s response key', { cause });
  }
  return parsePayload(VERIFY_RESULT, plaintext);
}

function parsePayload<T>(schema: z.ZodType<T>, plaintext: Uint8Array): T {
  let json: unknown;
  try {
    json = JSON.parse(Buffer.from(plaintext.buffer, plaintext.byteOffset, plaintext.byteLength).toString('utf8'));
  } catch (cause) {
    throw new ProtocolError('PAYLOAD_NOT_JSON', 'the decrypted payload is not JSON', { cause });
  }
  const parsed = schema.safeParse(json);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((issue) => ({ path: formatIssuePath(issue.path), message: issue.message }));
    throw new ProtocolError('PAYLOAD_INVALID', issues.map((issue) => `${issue.path}: ${issue.message}`).join('; '), { issues });
  }
  return parsed.data;
}
