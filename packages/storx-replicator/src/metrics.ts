import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';

/** The replicator's Prometheus metrics, on a registry of its own. */
export class ReplicatorMetrics {
  readonly registry = new Registry();

  readonly slotLagBytes = new Gauge({ name: 'storx_replicator_slot_lag_bytes', help: 'pg_current_wal_lsn() - confirmed_flush_lsn: WAL the slot holds back on the source', registers: [this.registry] });
  readonly confirmedLsn = new Gauge({ name: 'storx_replicator_confirmed_lsn', help: 'Position the slot was last acknowledged to (end of the last transaction the receiver committed), as a number', registers: [this.registry] });
  readonly eventsSent = new Counter({ name: 'storx_replicator_events_sent_total', help: 'Change events delivered (answered 2xx)', registers: [this.registry] });
  readonly batchesSent = new Counter({ name: 'storx_replicator_batches_sent_total', help: 'Batches delivered', registers: [this.registry] });
  readonly bytesSent = new Counter({ name: 'storx_replicator_bytes_sent_total', help: 'Request body bytes delivered', registers: [this.registry] });
  readonly deliveryDuration = new Histogram({
    name: 'storx_replicator_delivery_duration_seconds',
    help: 'One webhook request, from send to answer (any answer)',
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [this.registry],
  });
  readonly retries = new Counter({ name: 'storx_replicator_delivery_retries_total', help: 'Attempts that will be retried', registers: [this.registry] });
  readonly deliveryFailures = new Counter({ name: 'storx_replicator_delivery_failures_total', help: 'Failed attempts by class: network, timeout, http_429, http_5xx, http_4xx (permanent)', labelNames: ['class'] as const, registers: [this.registry] });
  readonly healthy = new Gauge({ name: 'storx_replicator_healthy', help: '1 when delivering normally; 0 after max-retries consecutive failures or a permanent rejection', registers: [this.registry] });
  readonly blocked = new Gauge({ name: 'storx_replicator_blocked', help: '1 while the receiver refuses a batch for good (by the code it answered, e.g. TABLE_INCOMPATIBLE, HTTP_401): replication is blocked until the cause is fixed', labelNames: ['code'] as const, registers: [this.registry] });
  readonly commitToConfirm = new Histogram({
    name: 'storx_replicator_commit_to_confirm_seconds',
    help: 'From a transaction commit on the source to the slot acknowledgement after the receiver committed it',
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300],
    registers: [this.registry],
  });
  readonly snapshotRowsCopied = new Counter({ name: 'storx_replicator_snapshot_rows_copied_total', help: 'Rows of existing data copied to the receiver (initial snapshot, snapshot, resync), by table', labelNames: ['table'] as const, registers: [this.registry] });
  readonly snapshotRowsEstimated = new Gauge({ name: 'storx_replicator_snapshot_rows_estimated', help: "The planner's estimate of a copied table's rows (pg_class.reltuples) when its copy started", labelNames: ['table'] as const, registers: [this.registry] });
  readonly streamStalled = new Gauge({ name: 'storx_replicator_stream_stalled', help: '1 while the stream receives nothing although the source writes WAL (heartbeats not seen; e.g. synchronized_standby_slots naming a missing slot)', registers: [this.registry] });
  readonly streamRestarts = new Counter({ name: 'storx_replicator_stream_restarts_total', help: 'Reconnections of the replication stream after an error', registers: [this.registry] });

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: 'storx_replicator_' });
    this.healthy.set(1);
  }
}
