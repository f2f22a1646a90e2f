import type { KeyObject } from 'node:crypto';
import type { Batch } from './batch.js';
import type { EncodedBatch } from './batch-payload.js';
import { type ChangeEvent, type SeedChangeEvent } from './change-event.js';
import type { ContentKeys } from './content-keys.js';
import { type DecryptionKey, openV2, type RecipientKey, sealV2, V2_MEDIA_TYPE } from './envelope-v2.js';
import { openV3Frame, sealV3, V3_MEDIA_TYPE } from './envelope-v3.js';
import { COPY_CONTENT_TYPE, type CopySection, decodeCopyPayload, encodeCopyPayload } from './copy-payload.js';
import type { BatchHeader } from './batch-payload.js';
import type { UnwrappedKeyCache } from './unwrapped-key-cache.js';
import { openSeedV1, SEED_MEDIA_TYPE, sealSeedV1 } from './envelope-seed.js';
import { ProtocolError } from './errors.js';
import { parseLsn } from './lsn.js';
import { decodeBatchInSlices, decodeSeedEvent, encodeBatch, encodeSeedEvent } from './payload-codec.js';
import { type TrustedKey, type VerifiedWebhook, verifyWebhook, verifyWebhookOffLoop } from './signature.js';
import { pingWebhookId, webhookId } from './webhook-id.js';

/**
 * `v3`: one binary frame per batch (envelope-v3.ts). `v2`: one JWE per batch, what every
 * receiver of ours takes. `seed-v1`: the seed's envelope, one event per request.
 */
export type WireFormat = 'v3' | 'v2' | 'seed-v1';
export const WIRE_FORMATS = ['v3', 'v2', 'seed-v1'] as const satisfies readonly WireFormat[];
/** The sender's `format` setting: a wire format, or `auto` (v3 when the receiver's ping answer names it, else v2). */
export type FormatSetting = 'auto' | WireFormat;
export const FORMAT_SETTINGS = ['auto', 'v3', 'v2', 'seed-v1'] as const satisfies readonly FormatSetting[];

/**
 * A sealed request body, ready to be signed. Sealing happens once per batch; the
 * signature (with a fresh timestamp) is made per attempt with `signWebhook`.
 */
export interface SealedRequest {
  id: string;
  /** A string for v2 and seed-v1 (ASCII), bytes for v3. */
  body: string | Buffer;
  contentType: string;
  /** SHA-256 of `body`, once a `v1d` signature needed it: made once per batch, not per attempt. */
  bodyDigest?: Buffer;
}

/** A v2 or seed-v1 request: the body is ASCII text. */
export interface SealedTextRequest extends SealedRequest {
  body: string;
}

/** A v3 request: the body is bytes. */
export interface SealedBinaryRequest extends SealedRequest {
  body: Buffer;
}

/**
 * Seals a batch in the v2 format (with `contentKeys`, sharing the sender's current content key):
 * a batch, or one already encoded (its payload bytes, as the replicator writes them).
 */
export async function sealBatchV2(batch: Batch | EncodedBatch, recipient: RecipientKey, contentKeys?: ContentKeys): Promise<SealedTextRequest> {
  const encoded = encodedBatch(batch);
  return { id: batchWebhookId(encoded), body: await sealV2(encoded.payload, recipient, contentKeys), contentType: V2_MEDIA_TYPE };
}

/** Seals a batch (or one already encoded) in the v3 format: a Buffer body, no base64 (with `contentKeys`, sharing the sender's current content key). */
export function sealBatchV3(batch: Batch | EncodedBatch, recipient: RecipientKey, contentKeys?: ContentKeys): SealedBinaryRequest {
  const encoded = encodedBatch(batch);
  return { id: batchWebhookId(encoded), body: sealV3(encoded.payload, recipient, contentKeys), contentType: V3_MEDIA_TYPE };
}

/**
 * Seals a table-copy chunk whose rows are COPY text (copy-payload.ts) in a v3 frame with `cty`
 * storx-copy+text; only for a receiver whose ping answer names `"copy": ["text"]`. Its webhook-id
 * is the batch's, as for a chunk sent as JSON events.
 */
export function sealCopyChunkV3(header: BatchHeader, copy: CopySection, recipient: RecipientKey, contentKeys?: ContentKeys): SealedBinaryRequest {
  const payload = encodeCopyPayload(header, copy);
  return { id: batchWebhookId({ header, eventCount: Math.max(1, copy.rows), payload }), body: sealV3(payload, recipient, contentKeys, COPY_CONTENT_TYPE), contentType: V3_MEDIA_TYPE };
}

function encodedBatch(batch: Batch | EncodedBatch): EncodedBatch {
  return 'payload' in batch ? batch : { header: batch, eventCount: batch.events.length, payload: encodeBatch(batch) };
}

function batchWebhookId({ header, eventCount }: EncodedBatch): string {
  return eventCount === 0
    ? pingWebhookId(header.source_id, header.slot)
    : webhookId({ sourceId: header.source_id, slot: header.slot, commitLsn: parseLsn(header.commit_lsn), chunkIndex: header.chunk.index });
}

/**
 * Seals each event of a batch in the seed format, in order, one request per event. The id
 * of event `i` is the batch's id followed by `:i`, stable across retries.
 */
export function sealBatchSeedV1(batch: Batch, publicKey: KeyObject): SealedTextRequest[] {
  const base = webhookId({ sourceId: batch.source_id, slot: batch.slot, commitLsn: parseLsn(batch.commit_lsn), chunkIndex: batch.chunk.index });
  return batch.events.map((event: ChangeEvent, index) => ({
    id: `${base}:${index}`,
    body: sealSeedV1(encodeSeedEvent(event), publicKey),
    contentType: SEED_MEDIA_TYPE,
  }));
}

export interface OpenRequestInput {
  headers: Readonly<Record<string, string | readonly string[] | undefined>>;
  /** The body exactly as received: a Buffer on a receiver (never decoded before the signature is checked). */
  body: string | Uint8Array;
  trustedKeys: readonly TrustedKey[];
  decryptionKeys: readonly DecryptionKey[];
  toleranceSeconds?: number;
  now?: number;
  /** Called once the signature has verified, before anything is decrypted (a receiver stops counting the request as unauthenticated). */
  onAuthenticated?: () => void;
  /** The body's format, from its Content-Type: `v2` (default) or `v3`. */
  format?: 'v2' | 'v3';
  /** Content keys already unwrapped: used, and filled, only after the signature verified. */
  unwrappedKeys?: UnwrappedKeyCache;
  /** v3: decrypt into the body's own bytes (a receiver that is done with the body after this). */
  decryptInPlace?: boolean;
}

/**
 * The receiver's path for a v2 or v3 request, in the order that spends nothing on an
 * unauthenticated caller: headers → timestamp → signature → decrypt → schema. (The size cap
 * comes first, in the HTTP layer.) Throws a ProtocolError whose `status` is the answer.
 */
export async function openBatchRequest(input: OpenRequestInput): Promise<{ webhook: VerifiedWebhook; batch: Batch; copy?: CopySection }> {
  const webhook = await verifyWebhookOffLoop({ headers: input.headers, body: input.body, trustedKeys: input.trustedKeys, toleranceSeconds: input.toleranceSeconds, now: input.now });
  input.onAuthenticated?.();
  if (input.format === 'v3') {
    if (typeof input.body === 'string') throw new ProtocolError('ENVELOPE_MALFORMED', 'a v3 body is bytes, not text');
    const { plaintext, contentType } = await openV3Frame(input.body, input.decryptionKeys, { ...(input.unwrappedKeys ? { unwrappedKeys: input.unwrappedKeys } : {}), inPlace: input.decryptInPlace ?? false });
    // A copy chunk with COPY text rows: its own layout, named by the authenticated header.
    if (contentType === COPY_CONTENT_TYPE) return { webhook, ...(await decodeCopyPayload(plaintext)) };
    return { webhook, batch: await decodeBatchInSlices(plaintext) };
  }
  return { webhook, batch: await decodeBatchInSlices(await openV2(input.body, input.decryptionKeys, input.unwrappedKeys)) };
}

/** The same for one seed-format request that carries our signature headers. */
export function openSeedRequest(input: OpenRequestInput): { webhook: VerifiedWebhook; event: ChangeEvent | SeedChangeEvent } {
  const webhook = verifyWebhook({ headers: input.headers, body: input.body, trustedKeys: input.trustedKeys, toleranceSeconds: input.toleranceSeconds, now: input.now });
  const plaintext = openSeedV1(input.body, input.decryptionKeys.map((entry) => entry.key));
  return { webhook, event: decodeSeedEvent(plaintext) };
}
