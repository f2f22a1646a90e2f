import type { KeyObject } from 'node:crypto';
import type { Batch } from './batch.js';
import { type ChangeEvent, type SeedChangeEvent } from './change-event.js';
import { type DecryptionKey, openV2, type RecipientKey, sealV2, V2_MEDIA_TYPE } from './envelope-v2.js';
import { openSeedV1, SEED_MEDIA_TYPE, sealSeedV1 } from './envelope-seed.js';
import { parseLsn } from './lsn.js';
import { decodeBatchInSlices, decodeSeedEvent, encodeBatch, encodeSeedEvent } from './payload-codec.js';
import { type TrustedKey, type VerifiedWebhook, verifyWebhook, verifyWebhookOffLoop } from './signature.js';
import { pingWebhookId, webhookId } from './webhook-id.js';

/** `v2` (default): one JWE per batch. `seed-v1`: the seed's envelope, one event per request. */
export type WireFormat = 'v2' | 'seed-v1';
export const WIRE_FORMATS = ['v2', 'seed-v1'] as const satisfies readonly WireFormat[];

/**
 * A sealed request body, ready to be signed. Sealing happens once per batch; the
 * signature (with a fresh timestamp) is made per attempt with `signWebhook`.
 */
export interface SealedRequest {
  id: string;
  body: string;
  contentType: string;
}

/** Seals a batch in the v2 format. */
export async function sealBatchV2(batch: Batch, recipient: RecipientKey): Promise<SealedRequest> {
  const id =
    batch.events.length === 0
      ? pingWebhookId(batch.source_id, batch.slot)
      : webhookId({ sourceId: batch.source_id, slot: batch.slot, commitLsn: parseLsn(batch.commit_lsn), chunkIndex: batch.chunk.index });
  return { id, body: await sealV2(encodeBatch(batch), recipient), contentType: V2_MEDIA_TYPE };
}

/**
 * Seals each event of a batch in the seed format, in order, one request per event. The id
 * of event `i` is the batch's id followed by `:i`, stable across retries.
 */
export function sealBatchSeedV1(batch: Batch, publicKey: KeyObject): SealedRequest[] {
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
}

/**
 * The receiver's path for a v2 request, in the order that spends nothing on an
 * unauthenticated caller: headers → timestamp → signature → decrypt → schema. (The size cap
 * comes first, in the HTTP layer.) Throws a ProtocolError whose `status` is the answer.
 */
export async function openBatchRequest(input: OpenRequestInput): Promise<{ webhook: VerifiedWebhook; batch: Batch }> {
  const webhook = await verifyWebhookOffLoop({ headers: input.headers, body: input.body, trustedKeys: input.trustedKeys, toleranceSeconds: input.toleranceSeconds, now: input.now });
  input.onAuthenticated?.();
  const plaintext = await openV2(input.body, input.decryptionKeys);
  return { webhook, batch: await decodeBatchInSlices(plaintext) };
}

/** The same for one seed-format request that carries our signature headers. */
export function openSeedRequest(input: OpenRequestInput): { webhook: VerifiedWebhook; event: ChangeEvent | SeedChangeEvent } {
  const webhook = verifyWebhook({ headers: input.headers, body: input.body, trustedKeys: input.trustedKeys, toleranceSeconds: input.toleranceSeconds, now: input.now });
  const plaintext = openSeedV1(input.body, input.decryptionKeys.map((entry) => entry.key));
  return { webhook, event: decodeSeedEvent(plaintext) };
}
