import { Gauge, Registry } from 'prom-client';
import { parseLsn } from '@storx-backup/protocol';
import type { TopologyReport } from './topology-report.js';

/**
 * The topology view's figures as Prometheus gauges (`storx-replicator topology
 * --metrics-listen`): set from a fresh report on every scrape, like an exporter, so a server
 * that disappeared from the report disappears from /metrics. `server` is host:port as given.
 */
export class TopologyMetrics {
  readonly registry = new Registry();
  private readonly all: Gauge[] = [];
  private readonly gauge = (name: string, help: string, labelNames: readonly string[] = []): Gauge => {
    const gauge = new Gauge({ name: `storx_topology_${name}`, help, labelNames, registers: [this.registry] });
    this.all.push(gauge);
    return gauge;
  };

  readonly status = this.gauge('status', 'The whole view: 0 ok, 1 warning, 2 critical (the exit code of storx-replicator topology)');
  readonly problems = this.gauge('problems', 'Problems found, by item and severity', ['item', 'severity']);
  readonly postgresUp = this.gauge('postgres_up', '1 when the PostgreSQL server answered', ['server']);
  readonly postgresPrimary = this.gauge('postgres_is_primary', '1 for a primary, 0 for a standby (absent while unreachable)', ['server']);
  readonly standbyStreaming = this.gauge('postgres_standby_streaming', "1 when the standby's WAL receiver is streaming", ['server']);
  readonly standbyLagBytes = this.gauge('postgres_standby_replay_lag_bytes', "The primary's current WAL position minus the standby's replay position", ['server']);
  readonly standbyLagSeconds = this.gauge('postgres_standby_replay_lag_seconds', 'now() - last replayed commit while WAL waits to be replayed, else 0 (no false alarm on an idle primary)', ['server']);
  readonly physicalSlotActive = this.gauge('postgres_physical_slot_active', '1 when a standby uses the physical slot', ['server', 'slot']);
  readonly physicalSlotLost = this.gauge('postgres_physical_slot_lost', '1 when the physical slot is invalidated (wal_status lost)', ['server', 'slot']);
  readonly logicalSlotLagBytes = this.gauge('logical_slot_lag_bytes', "The backup stream's slot: pg_current_wal_lsn() - confirmed_flush_lsn");
  readonly receiverLagBytes = this.gauge('receiver_lag_bytes', "The primary's current WAL position minus the receiver's watermark");
  readonly receiverWatermark = this.gauge('receiver_watermark_lsn', 'The last commit the receiver applied, as a number');
  readonly redisUp = this.gauge('redis_up', '1 when Redis answered and accepted the password and certificate', ['server']);
  readonly redisMaster = this.gauge('redis_is_master', '1 for a master, 0 for a replica (absent while unreachable)', ['server']);
  readonly redisLinkUp = this.gauge('redis_link_up', "A replica's link to its master: 1 up, 0 down", ['server']);
  readonly redisOffset = this.gauge('redis_repl_offset', 'master_repl_offset (on a replica: its own offset)', ['server']);
  readonly redisLagBytes = this.gauge('redis_replica_lag_bytes', "The master's offset minus the replica's", ['server']);
  readonly redisLastIo = this.gauge('redis_replica_last_io_seconds', 'Seconds since the replica last heard from its master (the master pings every 10 s)', ['server']);
  readonly redisSyncFull = this.gauge('redis_sync_full', 'Full resyncs this server served as a master since it started (INFO stats sync_full): growth is a full-resync loop', ['server']);
  readonly redisSyncPartial = this.gauge('redis_sync_partial_ok', 'Partial resyncs it served since it started', ['server']);

  /** Replaces every value with the report's. */
  update(report: TopologyReport): void {
    for (const gauge of this.all) gauge.reset();
    this.status.set(report.exit_code);
    for (const problem of report.problems) this.problems.inc({ item: problem.item, severity: problem.severity });
    for (const server of report.postgres.servers) {
      const labels = { server: server.name };
      this.postgresUp.set(labels, server.reachable && server.error === null ? 1 : 0);
      if (server.role !== null) this.postgresPrimary.set(labels, server.role === 'primary' ? 1 : 0);
      if (server.standby !== null) {
        this.standbyStreaming.set(labels, server.standby.receiver_status === 'streaming' ? 1 : 0);
        if (server.standby.replay_lag_bytes !== null) this.standbyLagBytes.set(labels, server.standby.replay_lag_bytes);
        if (server.standby.replay_lag_seconds !== null) this.standbyLagSeconds.set(labels, server.standby.replay_lag_seconds);
      }
      for (const slot of server.physical_slots) {
        this.physicalSlotActive.set({ ...labels, slot: slot.name }, slot.active ? 1 : 0);
        this.physicalSlotLost.set({ ...labels, slot: slot.name }, slot.wal_status === 'lost' ? 1 : 0);
      }
    }
    const { slot, receiver, receiver_lag_bytes } = report.logical;
    if (slot.lag_bytes !== null) this.logicalSlotLagBytes.set(slot.lag_bytes);
    if (receiver_lag_bytes !== null) this.receiverLagBytes.set(receiver_lag_bytes);
    if (receiver.watermark_lsn !== null) this.receiverWatermark.set(Number(parseLsn(receiver.watermark_lsn)));
    for (const server of report.redis.servers) {
      const labels = { server: server.name };
      this.redisUp.set(labels, server.role === null ? 0 : 1);
      if (server.role === null) continue;
      this.redisMaster.set(labels, server.role === 'master' ? 1 : 0);
      if (server.repl_offset !== null) this.redisOffset.set(labels, server.repl_offset);
      if (server.sync_full !== null) this.redisSyncFull.set(labels, server.sync_full);
      if (server.sync_partial_ok !== null) this.redisSyncPartial.set(labels, server.sync_partial_ok);
      if (server.link !== null) {
        this.redisLinkUp.set(labels, server.link.status === 'up' ? 1 : 0);
        if (server.link.lag_bytes !== null) this.redisLagBytes.set(labels, server.link.lag_bytes);
        if (server.link.last_io_seconds >= 0) this.redisLastIo.set(labels, server.link.last_io_seconds);
      }
    }
  }
}
