import type { FastifyReply, FastifyRequest } from 'fastify';
import { checkWebhookHeaders, V3_MEDIA_TYPE, WEBHOOK_SIGNATURE_HEADER } from '@storx-backup/protocol';
import { ReceiverError } from '../errors.js';
import { toReceiverError } from '../verify/request-verifier.js';
import { webhookFormat } from './media-type.js';
import { peerOf, type ReceiveBudget, type ReceiveReservation } from './receive-budget.js';

export interface WebhookGateOptions {
  bodyLimitBytes: number;
  budget: ReceiveBudget;
  toleranceSeconds: number;
  acceptUnsignedSeedV1: boolean;
}

/**
 * Everything POST /webhook can refuse before reading a byte of the body, cheapest first:
 * content type (415), declared length (413), the webhook headers and the timestamp window
 * (400/401), and room in the receive budget (503). A refused request is answered with
 * `Connection: close`, so its unread body is never read (the socket is closed a moment after the
 * answer, reading nothing more: http/lingering-close.ts); an unauthenticated caller costs a
 * header parse, not a body.
 */
const reservations = new WeakMap<object, ReceiveReservation>();

/** What `request` holds of the receive budget (undefined on routes without the gate). */
export function receiveReservation(request: FastifyRequest): ReceiveReservation | undefined {
  return reservations.get(request.raw);
}

/**
 * 503 RECEIVER_BUSY. The answer says only that the receiver is busy: how much is held, and by
 * whom, is for the log (an unauthenticated prober learns nothing about the budget).
 */
export function receiverBusy(budget: ReceiveBudget, peer: string): ReceiverError {
  return new ReceiverError('RECEIVER_BUSY', 'uploads not yet authenticated hold the receive budget; retry shortly', {
    logFields: { peer, peerHeldBytes: budget.heldBy(peer), peerLimitBytes: budget.peerLimitBytes, budgetHeldBytes: budget.inUse, budgetLimitBytes: budget.limitBytes },
  });
}

export function webhookGate(options: WebhookGateOptions): (request: FastifyRequest, reply: FastifyReply) => Promise<void> {
  return async (request, reply) => {
    try {
      if (webhookFormat(request.headers['content-type']) === undefined) {
        throw new ReceiverError('UNSUPPORTED_MEDIA_TYPE', `content-type must be ${V3_MEDIA_TYPE} (v3), application/jose (v2) or text/plain (seed-v1)`);
      }
      const declared = declaredLength(request.headers['content-length']);
      if (declared !== undefined && declared > options.bodyLimitBytes) {
        throw new ReceiverError('BODY_TOO_LARGE', `the body declares ${declared} bytes; body-limit is ${options.bodyLimitBytes}`);
      }
      const unsignedSeed = options.acceptUnsignedSeedV1 && request.headers[WEBHOOK_SIGNATURE_HEADER] === undefined && webhookFormat(request.headers['content-type']) === 'seed-v1';
      if (!unsignedSeed) {
        try {
          checkWebhookHeaders({ headers: request.headers, toleranceSeconds: options.toleranceSeconds });
        } catch (error) {
          throw toReceiverError(error);
        }
      }
      // Nothing is held yet: the body reader holds its bytes as they arrive. A body that could
      // not fit even now is not read at all.
      const peer = peerOf(request.raw.socket.remoteAddress);
      const reservation = options.budget.open(peer, declared ?? 1);
      if (reservation === undefined) throw receiverBusy(options.budget, peer);
      reservations.set(request.raw, reservation);
      reply.raw.once('close', () => reservation.release());
    } catch (error) {
      void reply.header('connection', 'close');
      throw error;
    }
  };
}

/** Content-Length as a number; undefined when absent (chunked). Node has already refused a malformed one. */
function declaredLength(header: string | undefined): number | undefined {
  if (header === undefined) return undefined;
  const length = Number(header);
  return Number.isSafeInteger(length) && length >= 0 ? length : undefined;
}
