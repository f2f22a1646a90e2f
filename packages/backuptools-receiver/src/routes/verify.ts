import type { FastifyInstance } from 'fastify';
import { type DecryptionKey, openVerifyRequest, sealVerifyResult, type TrustedKey, VERIFY_BODY_LIMIT_BYTES, VERIFY_PATH } from '@storx-backup/protocol';
import { databaseFailure } from '../apply/database-errors.js';
import { ReceiverError } from '../errors.js';
import type { ReceiveBudget } from '../http/receive-budget.js';
import { receiveReservation, webhookGate } from '../http/webhook-gate.js';
import { webhookFormat } from '../http/media-type.js';
import type { ReceiverMetrics } from '../metrics.js';
import type { ReplayGuard } from '../verify/replay-guard.js';
import { toReceiverError } from '../verify/request-verifier.js';
import type { TableAllowlist } from '../verify/table-allowlist.js';
import { computeRangeDigests, type RangeDigestOptions } from '../verify/range-digests.js';
import type { BackupDb } from '../db.js';

export interface VerifyRouteDeps extends RangeDigestOptions {
  db: BackupDb;
  decryptionKeys: readonly DecryptionKey[];
  trustedKeys: readonly TrustedKey[];
  toleranceSeconds: number;
  tables: TableAllowlist;
  replays: ReplayGuard;
  metrics: ReceiverMetrics;
  receiveBudget: ReceiveBudget;
  bodyLimitBytes: number;
}

/**
 * POST /verify (docs/protocol.md, "Verify"): the same gate as /webhook (content type, declared
 * size, headers, timestamp, receive budget) with a body limit of VERIFY_BODY_LIMIT_BYTES; then
 * signature → replay check → decrypt → schema → table allowlist → one verify at a time →
 * digests in one read-only snapshot → the answer sealed under the request's response key.
 * Nothing touches the database before the allowlist check.
 */
export function registerVerifyRoute(app: FastifyInstance, deps: VerifyRouteDeps): void {
  const bodyLimitBytes = Math.min(deps.bodyLimitBytes, VERIFY_BODY_LIMIT_BYTES);
  const onRequest = webhookGate({ bodyLimitBytes, budget: deps.receiveBudget, toleranceSeconds: deps.toleranceSeconds, acceptUnsignedSeedV1: false });
  let busy = false;
  app.post(VERIFY_PATH, { onRequest, bodyLimit: bodyLimitBytes }, async (request, reply) => {
    if (webhookFormat(request.headers['content-type']) !== 'v2' || !Buffer.isBuffer(request.body)) throw new ReceiverError('UNSUPPORTED_MEDIA_TYPE', 'a verify request is application/jose (v2)');
    let opened;
    try {
      opened = await openVerifyRequest({
        headers: request.headers,
        body: request.body,
        trustedKeys: deps.trustedKeys,
        decryptionKeys: deps.decryptionKeys,
        toleranceSeconds: deps.toleranceSeconds,
        onAuthenticated: (webhook) => {
          receiveReservation(request)?.release();
          deps.replays.admit(webhook.id, webhook.timestamp);
        },
      });
    } catch (error) {
      deps.metrics.verifyRequests.inc({ outcome: 'refused' });
      throw toReceiverError(error);
    }
    const { request: verify, responseKey, webhook } = opened;
    deps.tables.check(verify.schema, verify.table);
    if (busy) throw new ReceiverError('RECEIVER_BUSY', 'another verify request is being computed; retry shortly');
    busy = true;
    try {
      const { result, rowsRead } = await computeRangeDigests(deps.db, verify, deps).catch((error: unknown) => Promise.reject(databaseFailure(error)));
      deps.metrics.verifyRequests.inc({ outcome: 'computed' });
      deps.metrics.verifyRowsRead.inc(rowsRead);
      return reply.send(sealVerifyResult(result, responseKey, webhook.id));
    } finally {
      busy = false;
    }
  });
}
