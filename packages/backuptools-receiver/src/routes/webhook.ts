import type { ServerResponse } from 'node:http';
import type { FastifyInstance } from 'fastify';
import { type Batch, type ChangeEvent, formatLsn, isPing, RECEIVER_CAPABILITIES, SEED_MEDIA_TYPE, V2_MEDIA_TYPE, V3_MEDIA_TYPE } from '@storx-backup/protocol';
import { webhookFormat } from '../http/media-type.js';
import type { ReceiveBudget } from '../http/receive-budget.js';
import { budgetedBody } from '../http/budgeted-body.js';
import { receiveReservation, webhookGate } from '../http/webhook-gate.js';
import type { Applier } from '../apply/applier.js';
import type { PredecessorWait } from '../apply/predecessor-wait.js';
import type { TableCheck } from '../schema/table-check.js';
import type { SeedEventApplier } from '../apply/seed-event-applier.js';
import { databaseFailure } from '../apply/database-errors.js';
import { type Watermark, watermarkToJson } from '../apply/watermark.js';
import { copyStatesToJson } from '../apply/table-copy-store.js';
import { ReceiverError } from '../errors.js';
import type { ReceiverMetrics } from '../metrics.js';
import type { RefusalLog } from '../refusals/refusal-log.js';
import type { ReplayGuard } from '../verify/replay-guard.js';
import { type RequestVerifier, toReceiverError } from '../verify/request-verifier.js';
import type { TableAllowlist } from '../verify/table-allowlist.js';

export interface WebhookDeps {
  verifier: RequestVerifier;
  applier: Applier;
  /** Holds a verified batch whose predecessor (`follows`) is still in flight until it is applied. */
  predecessors: PredecessorWait;
  seedApplier: SeedEventApplier;
  tables: TableAllowlist;
  /** Answers a ping that carries relations: could each table be applied (doctor asks before run)? */
  tableCheck: TableCheck;
  /** Refuses a replayed ping carrying relations before the table check works on the backup (the one /verify uses). */
  replays: ReplayGuard;
  metrics: ReceiverMetrics;
  /** Records what blocks a source (a permanent refusal of one of its batches) and when it clears. */
  refusals: RefusalLog;
  bodyLimitBytes: number;
  receiveBudget: ReceiveBudget;
  toleranceSeconds: number;
  acceptUnsignedSeedV1: boolean;
}

/**
 * POST /webhook: before the body is read (webhookGate) content type → declared size → headers →
 * timestamp → receive budget; while reading (budgetedBody) the size cap and the budget, chunk by
 * chunk; then signature (the budget is given back) → decrypt → payload schema → table allowlist
 * → apply. Any rejection changes nothing.
 */
export function registerWebhookRoute(app: FastifyInstance, deps: WebhookDeps): void {
  // Bodies stay the Buffers read from the socket: the signature covers the exact bytes (no UTF-8
  // decode and re-encode of up to body-limit bytes), and JSON is parsed only after decryption.
  // Every other content type (JSON included) gets 415, from the gate, before the body is read.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser([V3_MEDIA_TYPE, V2_MEDIA_TYPE, SEED_MEDIA_TYPE], budgetedBody(deps.receiveBudget, deps.bodyLimitBytes));

  const onRequest = webhookGate({ bodyLimitBytes: deps.bodyLimitBytes, budget: deps.receiveBudget, toleranceSeconds: deps.toleranceSeconds, acceptUnsignedSeedV1: deps.acceptUnsignedSeedV1 });
  app.post('/webhook', { onRequest }, async (request, reply) => {
    const format = webhookFormat(request.headers['content-type']);
    if (format === undefined || !Buffer.isBuffer(request.body)) throw new ReceiverError('MALFORMED_REQUEST', 'the body must be the envelope');
    // Once the signature verifies, the request is the trusted sender's: its bytes leave the
    // budget for unauthenticated uploads (decrypting and applying are bounded by the batch size).
    const verified = await deps.verifier.verify(format, request.headers, request.body, () => receiveReservation(request)?.release());

    if (verified.format === 'seed-v1') {
      deps.tables.check(deps.seedApplier.sourceSchemaOf(verified.event), verified.event.table);
      const status = await deps.seedApplier.apply(verified.event, verified.webhookId).catch((error: unknown) => Promise.reject(databaseFailure(error)));
      if (status === 'applied') deps.metrics.eventsApplied.inc({ table: verified.event.table, operation: verified.event.operation });
      return reply.send({ status });
    }

    let outcome;
    let batch = verified.batch;
    // A ping carrying relations asks whether each table could be applied; it is answered per
    // table, in a transaction always rolled back, and applies nothing (docs/protocol.md).
    const asksTables = isPing(batch) && batch.relations.length > 0;
    if (asksTables) admitOnce(deps.replays, verified.webhookId, verified.timestamp);
    const tableChecks = asksTables ? await deps.tableCheck.check(batch.relations) : undefined;
    if (tableChecks !== undefined) batch = { ...batch, relations: [] };
    try {
      // Only allowed tables, and only relations that the events (or the table copy) use: a
      // relation without events would create an empty table and nothing else.
      batch = { ...batch, relations: deps.tables.relationsToApply(batch) };
      // Verified and decrypted already: a batch sent while its predecessor is in flight waits here.
      if (batch.follows !== undefined) await waitForPredecessor(deps.predecessors, batch, request.body.length, reply.raw);
      const stopTimer = deps.metrics.applyDuration.startTimer();
      outcome = await deps.applier.apply(batch, verified.copy);
      stopTimer();
      if (outcome.status !== 'ping') deps.predecessors.applied(batch.source_id, batch.slot, outcome.watermark);
    } catch (error) {
      if (error instanceof ReceiverError) await deps.refusals.refused(batch, error);
      throw error;
    }
    if (outcome.status === 'ping') {
      const refusal = await deps.refusals.current(batch.source_id, batch.slot);
      return reply.send({ status: 'ping', watermark: outcome.watermark === undefined ? null : watermarkToJson(outcome.watermark), durable: durableToJson(outcome.durable), table_copies: copyStatesToJson(outcome.copies), refusal, origin: outcome.origin === undefined ? null : { system_id: outcome.origin.systemId, timeline: outcome.origin.timeline }, accepts: RECEIVER_CAPABILITIES, ...(tableChecks === undefined ? {} : { table_checks: tableChecks }) });
    }
    await deps.refusals.accepted(batch.source_id, batch.slot);
    if (outcome.status === 'applied') {
      countEventsApplied(deps.metrics, batch.events);
      if (verified.copy !== undefined && batch.snapshot !== undefined) deps.metrics.eventsApplied.inc({ table: batch.snapshot.table, operation: 'INSERT' }, verified.copy.rows);
      const labels = { source_id: batch.source_id, slot: batch.slot };
      if (outcome.watermark.commitLsn !== undefined) deps.metrics.watermarkLsn.set(labels, Number(outcome.watermark.commitLsn));
      const committedAt = Date.parse(batch.events.at(-1)?.timestamp ?? '');
      if (Number.isFinite(committedAt)) deps.metrics.applyLag.set(labels, Math.max(0, (Date.now() - committedAt) / 1000));
      request.log.debug({ source: batch.source_id, commitLsn: batch.commit_lsn, chunk: batch.chunk, events: outcome.events }, 'batch applied');
    } else {
      request.log.info({ source: batch.source_id, commitLsn: batch.commit_lsn, chunk: batch.chunk, watermark: outcome.watermark.commitLsn === undefined ? null : formatLsn(outcome.watermark.commitLsn) }, 'duplicate batch ignored');
    }
    return reply.send({ status: outcome.status, watermark: watermarkToJson(outcome.watermark), durable: durableToJson(outcome.durable) });
  });
}

/** How far the (source, slot)'s watermark is on disk; null while this process knows of nothing durable. */
function durableToJson(durable: Watermark | undefined): ReturnType<typeof watermarkToJson> | null {
  return durable === undefined ? null : watermarkToJson(durable);
}

/** Waits for the batch's predecessor; gives up when the sender closes the connection meanwhile. */
async function waitForPredecessor(predecessors: PredecessorWait, batch: Batch, bytes: number, response: ServerResponse): Promise<void> {
  const gone = new AbortController();
  const onClose = (): void => {
    if (!response.writableFinished) gone.abort();
  };
  response.once('close', onClose);
  try {
    await predecessors.untilPredecessorApplied(batch, bytes, gone.signal);
  } finally {
    response.off('close', onClose);
  }
}

/**
 * Adds a batch's events to backuptools_events_applied_total, one increment per table and
 * operation: one per event (a label lookup each) took ~150 ms of event loop for 100k events.
 * Consecutive events mostly share both, so a stretch of them is counted before any key is built.
 */
function countEventsApplied(metrics: ReceiverMetrics, events: readonly ChangeEvent[]): void {
  const counts = new Map<string, { table: string; operation: string; count: number }>();
  for (let start = 0; start < events.length; ) {
    const { table, operation } = events[start]!;
    let end = start + 1;
    while (end < events.length && events[end]!.table === table && events[end]!.operation === operation) end += 1;
    const key = `${operation} ${table}`;
    const entry = counts.get(key);
    if (entry === undefined) counts.set(key, { table, operation, count: end - start });
    else entry.count += end - start;
    start = end;
  }
  for (const { table, operation, count } of counts.values()) metrics.eventsApplied.inc({ table, operation }, count);
}

/** A replayed request that would make the backup work is refused (401 WEBHOOK_REPLAYED), as /verify refuses one. */
function admitOnce(replays: ReplayGuard, webhookId: string, timestamp: number): void {
  try {
    replays.admit(webhookId, timestamp);
  } catch (error) {
    throw toReceiverError(error);
  }
}
