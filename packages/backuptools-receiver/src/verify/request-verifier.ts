import {
  type Batch,
  type ChangeEvent,
  type CopySection,
  type DecryptionKey,
  decodeSeedEvent,
  openBatchRequest,
  openSeedV1,
  ProtocolError,
  type SeedChangeEvent,
  type TrustedKey,
  UnwrappedKeyCache,
  verifyWebhookOffLoop,
  WEBHOOK_SIGNATURE_HEADER,
} from '@storx-backup/protocol';
import { ReceiverError } from '../errors.js';

export type VerifiedRequest =
  | { format: 'v3' | 'v2'; batch: Batch; signerKid: string; webhookId: string; timestamp: number; copy?: CopySection }
  | { format: 'seed-v1'; event: ChangeEvent | SeedChangeEvent; signerKid: string | undefined; webhookId: string | undefined };

export interface VerifierOptions {
  decryptionKeys: readonly DecryptionKey[];
  trustedKeys: readonly TrustedKey[];
  toleranceSeconds: number;
  /** Accept seed-format messages that carry no signature at all (insecure, opt-in). */
  acceptUnsignedSeedV1: boolean;
}

type Headers = Readonly<Record<string, string | readonly string[] | undefined>>;

/**
 * headers → timestamp → signature → decrypt → payload schema (the body size was capped by the
 * HTTP layer). Nothing is decrypted for a caller whose signature did not verify: the receiver's
 * public key is public, so a correctly encrypted body proves nothing.
 */
export class RequestVerifier {
  /**
   * Content keys of v2/v3 envelopes already unwrapped, for the senders that share one content key
   * between requests: one RSA operation per key instead of per request. Used and filled only
   * after a request's signature verified.
   */
  readonly unwrappedKeys = new UnwrappedKeyCache();

  constructor(private readonly options: VerifierOptions) {}

  /**
   * `body` is the Buffer read from the socket: the signature is checked over those bytes, never
   * over a decoded string. `onAuthenticated` runs as soon as a signature verifies, before decrypting.
   */
  async verify(format: 'v3' | 'v2' | 'seed-v1', headers: Headers, body: Buffer, onAuthenticated: () => void = () => undefined): Promise<VerifiedRequest> {
    const input = { headers, body, trustedKeys: this.options.trustedKeys, decryptionKeys: this.options.decryptionKeys, toleranceSeconds: this.options.toleranceSeconds, onAuthenticated };
    try {
      if (format === 'v2' || format === 'v3') {
        // The body is not used after this: v3 decrypts into its bytes (no second body-sized buffer).
        const { webhook, batch, copy } = await openBatchRequest({ ...input, format, unwrappedKeys: this.unwrappedKeys, decryptInPlace: true });
        return { format, batch, signerKid: webhook.signerKid, webhookId: webhook.id, timestamp: webhook.timestamp, ...(copy ? { copy } : {}) };
      }
      if (headers[WEBHOOK_SIGNATURE_HEADER] === undefined && this.options.acceptUnsignedSeedV1) {
        const plaintext = openSeedV1(body, this.options.decryptionKeys.map((entry) => entry.key));
        return { format, event: decodeSeedEvent(plaintext), signerKid: undefined, webhookId: undefined };
      }
      const webhook = await verifyWebhookOffLoop({ headers, body, trustedKeys: this.options.trustedKeys, toleranceSeconds: this.options.toleranceSeconds });
      onAuthenticated();
      const event = decodeSeedEvent(openSeedV1(body, this.options.decryptionKeys.map((entry) => entry.key)));
      return { format, event, signerKid: webhook.signerKid, webhookId: webhook.id };
    } catch (error) {
      throw toReceiverError(error);
    }
  }
}

/** A protocol failure as the receiver answers it (401 for every authentication failure). */
export function toReceiverError(error: unknown): ReceiverError {
  if (!(error instanceof ProtocolError)) return new ReceiverError('INTERNAL', `verifying the request failed: ${String(error)}`, { cause: error });
  if (error.status === 401) return new ReceiverError('UNAUTHORIZED', `${error.code}: ${error.message}`, { cause: error });
  if (error.code === 'PAYLOAD_COPY_INVALID') return new ReceiverError('COPY_DATA_INVALID', error.message, { cause: error });
  if (error.status === 422) return new ReceiverError('PAYLOAD_INVALID', error.message, { cause: error });
  return new ReceiverError('MALFORMED_REQUEST', error.message, { cause: error });
}
