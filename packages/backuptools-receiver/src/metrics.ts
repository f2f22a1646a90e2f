import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';

/** The receiver's Prometheus metrics, on a registry of its own (one per app). */
export class ReceiverMetrics {
  readonly registry = new Registry();

  readonly requests = new Counter({
    name: 'backuptools_requests_total',
    help: 'Webhook requests by HTTP status and reason (applied, duplicate, ping, or an error code)',
    labelNames: ['status', 'reason'] as const,
    registers: [this.registry],
  });

  readonly eventsApplied = new Counter({
    name: 'backuptools_events_applied_total',
    help: 'Change events applied to the backup, by table and operation',
    labelNames: ['table', 'operation'] as const,
    registers: [this.registry],
  });

  readonly applyDuration = new Histogram({
    name: 'backuptools_apply_duration_seconds',
    help: 'Time to apply one batch (its database transaction, watermark included)',
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [this.registry],
  });

  readonly watermarkLsn = new Gauge({
    name: 'backuptools_watermark_lsn',
    help: 'Commit LSN of the last batch applied, as a number (compare with the source slot position)',
    labelNames: ['source_id', 'slot'] as const,
    registers: [this.registry],
  });

  readonly applyLag = new Gauge({
    name: 'backuptools_source_commit_to_apply_lag_seconds',
    help: 'Seconds between the source commit of the last event applied and its apply',
    labelNames: ['source_id', 'slot'] as const,
    registers: [this.registry],
  });

  readonly sourceBlocked = new Gauge({
    name: 'backuptools_source_blocked',
    help: '1 while the last batch of a source was refused for good (4xx, by error code): replication from it is blocked until the cause is fixed',
    labelNames: ['source_id', 'slot', 'code'] as const,
    registers: [this.registry],
  });

  readonly verifyRequests = new Counter({
    name: 'backuptools_verify_requests_total',
    help: 'POST /verify requests: computed (digests answered) or refused before any database work (signature, replay, decryption, payload)',
    labelNames: ['outcome'] as const,
    registers: [this.registry],
  });

  readonly verifyRowsRead = new Counter({
    name: 'backuptools_verify_rows_read_total',
    help: 'Backup rows hashed for verify requests',
    registers: [this.registry],
  });

  /** What `receiveBudgetHeld` reads; app.ts points it at the receive budget. */
  receiveBudgetHeld: () => number = () => 0;

  readonly receiveBudgetBytes: Gauge = new Gauge({
    name: 'backuptools_receive_budget_held_bytes',
    help: 'Bytes that uploads not yet authenticated hold of receive-budget now (at the limit, new uploads get 503 RECEIVER_BUSY)',
    registers: [this.registry],
    collect: () => {
      this.receiveBudgetBytes.set(this.receiveBudgetHeld());
    },
  });

  /** What `batchesWaiting` reads; app.ts points it at the predecessor wait. */
  batchesWaitingNow: () => number = () => 0;

  readonly batchesWaiting: Gauge = new Gauge({
    name: 'backuptools_batches_waiting_for_predecessor',
    help: 'Verified batches held until the batch they follow is applied (a sender keeps several in flight); bounded, see ORDER_WAIT_FULL',
    registers: [this.registry],
    collect: () => {
      this.batchesWaiting.set(this.batchesWaitingNow());
    },
  });

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: 'backuptools_' });
  }
}
