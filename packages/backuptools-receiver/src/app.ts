import Fastify, { type FastifyError, type FastifyInstance, LogController } from 'fastify';
import type { DecryptionKey, TrustedKey } from '@storx-backup/protocol';
import type { Logger } from '@storx-backup/service-kit';
import { Applier } from './apply/applier.js';
import { SeedEventApplier } from './apply/seed-event-applier.js';
import type pg from 'pg';
import type { BackupDb } from './db.js';
import { RECEIVER_ERRORS, ReceiverError } from './errors.js';
import { DEFAULT_HTTP_TIMEOUTS, type HttpTimeouts, serverTimeoutOptions } from './http/http-timeouts.js';
import { boundedText } from './bounded-text.js';
import { lingerBeforeClose } from './http/lingering-close.js';
import { loggableError } from './http/loggable-error.js';
import { ReceiveBudget } from './http/receive-budget.js';
import { ReceiverMetrics } from './metrics.js';
import { refusalFix } from './refusals/refusal-fixes.js';
import { RefusalLog } from './refusals/refusal-log.js';
import { registerHealthRoutes } from './routes/health.js';
import { registerVerifyRoute } from './routes/verify.js';
import { registerWebhookRoute } from './routes/webhook.js';
import { DEFAULT_PREDECESSOR_WAIT, PredecessorWait, type PredecessorWaitLimits } from './apply/predecessor-wait.js';
import { readWatermark } from './apply/watermark-store.js';
import { readCopyState } from './apply/table-copy-store.js';
import { watermarkToJson } from './apply/watermark.js';
import { TableCheck } from './schema/table-check.js';
import { TableSync, type TableSyncOptions } from './schema/table-sync.js';
import { ReplayGuard } from './verify/replay-guard.js';
import { RequestVerifier } from './verify/request-verifier.js';
import { type AllowedTable, TableAllowlist } from './verify/table-allowlist.js';

export interface AppOptions {
  db: BackupDb;
  /** The pool `db` runs on (createBackupDb): batches are applied on a client of their own. */
  pool: pg.Pool;
  logger: Logger;
  decryptionKeys: readonly DecryptionKey[];
  trustedKeys: readonly TrustedKey[];
  allowedTables: readonly AllowedTable[];
  schemaMapping: ReadonlyMap<string, string>;
  autoCreateTables: boolean;
  stateSchema: string;
  /** Source schema of a seed-format event that names none (`default-schema`). */
  defaultSchema: string;
  bodyLimitBytes: number;
  /** Bytes that requests not yet authenticated may hold at once (receive-budget); default twice bodyLimitBytes. One peer holds at most half (at least bodyLimitBytes). */
  receiveBudgetBytes?: number;
  /** Default DEFAULT_HTTP_TIMEOUTS. */
  timeouts?: HttpTimeouts;
  timestampToleranceSeconds: number;
  acceptUnsignedSeedV1: boolean;
  /** Commit stream batches with `synchronous_commit` on (`synchronous-commit`); default off: asynchronous, the durable position answered apart. */
  synchronousCommit?: boolean;
  /** Bounds on batches held for their predecessors (tests make them small); default DEFAULT_PREDECESSOR_WAIT. */
  predecessorWait?: Partial<PredecessorWaitLimits>;
  /** Certificate and key: serve HTTPS. */
  https?: { cert: string | Buffer; key: string | Buffer };
}

/** 503s that are part of normal operation (load shedding, waits): a warning, not an error with a stack. */
const EXPECTED_503: ReadonlySet<string> = new Set(['RECEIVER_BUSY', 'PREDECESSOR_NOT_APPLIED', 'ORDER_WAIT_FULL']);

/** Every 401 has this exact body, so a prober cannot tell which check failed. */
export const UNAUTHORIZED_BODY = { error: 'unauthorized' } as const;

/** Builds the Fastify app, apart from listening (tests use `app.inject()`). */
export function buildApp(options: AppOptions): FastifyInstance & { metrics: ReceiverMetrics } {
  const { nodeServer, ...timeouts } = serverTimeoutOptions(options.timeouts ?? DEFAULT_HTTP_TIMEOUTS);
  const app = Fastify({
    loggerInstance: options.logger,
    // One log line per rejected or failed request comes from our error handler; per-request
    // lines for every applied batch would drown everything else.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: options.bodyLimitBytes,
    ...timeouts,
    // Node's own server options: Fastify passes `http` to http.createServer and `https` to https.createServer.
    ...(options.https ? { https: { ...options.https, ...nodeServer } } : { http: nodeServer }),
  }) as unknown as FastifyInstance;
  const metrics = new ReceiverMetrics();
  const syncOptions: TableSyncOptions = { autoCreateTables: options.autoCreateTables, schemaMapping: options.schemaMapping, stateSchema: options.stateSchema };
  const tableSync = new TableSync(syncOptions);
  const tables = new TableAllowlist(options.allowedTables);

  app.setErrorHandler((error: FastifyError | ReceiverError, request, reply) => {
    const receiverError = error instanceof ReceiverError ? error : fromFastifyError(error);
    metrics.requests.inc({ status: String(receiverError.status), reason: receiverError.code });
    if (receiverError.status >= 500 && !EXPECTED_503.has(receiverError.code)) request.log.error({ err: loggableError(error), code: receiverError.code }, 'request failed');
    else request.log.warn({ code: receiverError.code, reason: boundedText(receiverError.message), ...receiverError.logFields }, 'request rejected');
    // A body left unread (refused before or while reading it) is not read after all: the
    // connection closes once the answer is written, without a reset that could lose the answer.
    if (!request.raw.complete) {
      void reply.header('connection', 'close');
      lingerBeforeClose(request.raw.socket);
    }
    if (receiverError.status === 401) return reply.code(401).send(UNAUTHORIZED_BODY);
    if (receiverError.status === 503) void reply.header('retry-after', receiverError.code === 'PREDECESSOR_NOT_APPLIED' || receiverError.code === 'ORDER_WAIT_FULL' ? '1' : '5');
    // A refusal says what to do about it: the replicator logs and reports this fix.
    const fix = receiverError.status < 500 ? { fix: refusalFix(receiverError.code) } : {};
    return reply.code(receiverError.status).send({ error: receiverError.code, message: boundedText(receiverError.message), ...fix });
  });
  app.addHook('onSend', async (request, reply, payload) => {
    if (request.routeOptions.url === '/webhook' && reply.statusCode === 200) {
      const reason = typeof payload === 'string' ? (/"status":"(\w+)"/.exec(payload)?.[1] ?? 'ok') : 'ok';
      metrics.requests.inc({ status: '200', reason });
    }
    return payload;
  });

  const refusals = new RefusalLog(options.db, options.stateSchema, metrics, options.logger);
  app.addHook('onReady', () => refusals.load());
  const budget = receiveBudget(options.receiveBudgetBytes ?? 2 * options.bodyLimitBytes, options.bodyLimitBytes);
  metrics.receiveBudgetHeld = () => budget.inUse;
  const predecessors = new PredecessorWait(
    (sourceId, slot) => readWatermark(options.db, options.stateSchema, sourceId, slot),
    { ...DEFAULT_PREDECESSOR_WAIT, ...options.predecessorWait },
    (sourceId, slot, schema, table) => readCopyState(options.db, options.stateSchema, sourceId, slot, schema, table),
  );
  metrics.batchesWaitingNow = () => predecessors.size;
  // One guard for both routes: verify requests and pings carrying relations (the table question).
  const replays = new ReplayGuard(options.timestampToleranceSeconds);
  registerWebhookRoute(app, {
    verifier: new RequestVerifier({
      decryptionKeys: options.decryptionKeys,
      trustedKeys: options.trustedKeys,
      toleranceSeconds: options.timestampToleranceSeconds,
      acceptUnsignedSeedV1: options.acceptUnsignedSeedV1,
    }),
    applier: new Applier(options.db, options.pool, tableSync, options.stateSchema, {
      synchronousCommit: options.synchronousCommit ?? false,
      onUnflushedLost: (sourceId, slot, latest) =>
        options.logger.warn({ source: sourceId, slot, latest: watermarkToJson(latest) }, 'the backup PostgreSQL restarted before batches it had applied were flushed to disk: they may be lost; the sender, which acknowledged only what was flushed, sends them again'),
    }),
    predecessors,
    seedApplier: new SeedEventApplier(options.db, tableSync, options.stateSchema, options.timestampToleranceSeconds, options.defaultSchema),
    tables,
    tableCheck: new TableCheck(options.db, syncOptions, tables),
    replays,
    metrics,
    refusals,
    bodyLimitBytes: options.bodyLimitBytes,
    receiveBudget: budget,
    toleranceSeconds: options.timestampToleranceSeconds,
    acceptUnsignedSeedV1: options.acceptUnsignedSeedV1,
  });
  registerVerifyRoute(app, {
    db: options.db,
    decryptionKeys: options.decryptionKeys,
    trustedKeys: options.trustedKeys,
    toleranceSeconds: options.timestampToleranceSeconds,
    tables,
    replays,
    metrics,
    receiveBudget: budget,
    bodyLimitBytes: options.bodyLimitBytes,
    stateSchema: options.stateSchema,
    targetSchema: (schema) => tableSync.targetSchema(schema),
  });
  registerHealthRoutes(app, options.db, metrics);
  return Object.assign(app, { metrics });
}

function receiveBudget(limitBytes: number, bodyLimitBytes: number): ReceiveBudget {
  return new ReceiveBudget(limitBytes, ReceiveBudget.peerShare(limitBytes, bodyLimitBytes));
}

function fromFastifyError(error: FastifyError): ReceiverError {
  switch (error.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new ReceiverError('BODY_TOO_LARGE', `${error.message} (body-limit)`, { cause: error });
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new ReceiverError('UNSUPPORTED_MEDIA_TYPE', RECEIVER_ERRORS.UNSUPPORTED_MEDIA_TYPE.summary, { cause: error });
    default:
      if (error.statusCode !== undefined && error.statusCode >= 400 && error.statusCode < 500) {
        return new ReceiverError('MALFORMED_REQUEST', error.message, { cause: error });
      }
      return new ReceiverError('INTERNAL', error.message, { cause: error });
  }
}
