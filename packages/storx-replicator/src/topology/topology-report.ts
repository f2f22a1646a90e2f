import type { StatusReport } from '../inspect/status-report.js';

/**
 * What `storx-replicator topology --json` prints: both hosts' PostgreSQL and Redis, the logical
 * slot and the receiver, in one object. Field names are snake_case and stable (monitoring reads
 * them); a value that could not be found out is null, never omitted. LSNs are PostgreSQL's text.
 */
export interface TopologyReport {
  /** ok (exit 0), warning (exit 1) or critical (exit 2): the worst problem. */
  status: TopologyLevel;
  exit_code: 0 | 1 | 2;
  checked_at: string;
  postgres: {
    /** The one server not in recovery (null: none, or more than one). */
    primary: string | null;
    servers: PostgresServer[];
  };
  /** The replicator's slot and the receiver, as `storx-replicator status` reports them. */
  logical: {
    slot: StatusReport['slot'];
    receiver: StatusReport['receiver'];
    /** The primary's current WAL position minus the receiver's watermark (null: not known). */
    receiver_lag_bytes: number | null;
  };
  redis: {
    /** false: no --redis given. */
    checked: boolean;
    /** The one server in the master role (null: none, or more than one). */
    master: string | null;
    servers: RedisServer[];
  };
  problems: TopologyProblem[];
}

export type TopologyLevel = 'ok' | 'warning' | 'critical';

export interface TopologyProblem {
  severity: 'warning' | 'critical';
  /** slot and receiver: `storx-replicator status`'s problems (database, wal_level, lag and publication count as slot). */
  item: 'postgres' | 'standby' | 'physical_slot' | 'slot' | 'receiver' | 'redis';
  /** The server concerned (host:port), null for the topology as a whole. */
  server: string | null;
  message: string;
  fix: string;
}

export interface PostgresServer {
  /** host:port from its URL. */
  name: string;
  reachable: boolean;
  error: string | null;
  role: 'primary' | 'standby' | null;
  /** Primary: pg_current_wal_lsn(). */
  current_wal_lsn: string | null;
  /** Primary: its physical standbys, from pg_stat_replication (logical walsenders left out). */
  standbys: StandbyConnection[];
  /** Primary: physical replication slots. */
  physical_slots: PhysicalSlot[];
  /** Standby: its own view. */
  standby: StandbyState | null;
}

export interface StandbyConnection {
  application_name: string;
  client_addr: string | null;
  state: string;
  sync_state: string;
  replay_lsn: string | null;
  /** pg_current_wal_lsn() - replay_lsn on the primary. */
  replay_lag_bytes: number | null;
  /** pg_stat_replication.replay_lag: null when the standby has nothing to replay (an idle primary). */
  replay_lag_seconds: number | null;
}

export interface PhysicalSlot {
  name: string;
  active: boolean;
  wal_status: string | null;
  /** WAL it holds back: pg_current_wal_lsn() - restart_lsn. */
  retained_bytes: number | null;
}

export interface StandbyState {
  /** pg_stat_wal_receiver.status: 'streaming', 'waiting', ...; null: no WAL receiver running. */
  receiver_status: string | null;
  /** host:port it streams from. */
  upstream: string | null;
  receive_lsn: string | null;
  replay_lsn: string | null;
  /** The primary's current WAL position minus this replay position (null: no primary seen). */
  replay_lag_bytes: number | null;
  /**
   * now() - pg_last_xact_replay_timestamp() while WAL received is not yet replayed, else 0:
   * on an idle primary the replay timestamp gets old without any lag (no false alarm).
   */
  replay_lag_seconds: number | null;
}

export interface RedisServer {
  /** host:port as given. */
  name: string;
  reachable: boolean;
  error: string | null;
  role: 'master' | 'replica' | null;
  /** INFO replication's master_repl_offset: on a replica, its own offset. */
  repl_offset: number | null;
  repl_backlog_size: number | null;
  /** INFO stats: full and partial resyncs this server served as a master (counters since start). */
  sync_full: number | null;
  sync_partial_ok: number | null;
  /** Master: the replicas connected to it. */
  replicas: { address: string; state: string; offset: number; ack_seconds: number }[];
  /** Replica: its link to the master. */
  link: RedisLink | null;
}

export interface RedisLink {
  master: string;
  /** master_link_status: 'up' or 'down'. */
  status: string;
  /** master_last_io_seconds_ago (-1 while down). */
  last_io_seconds: number;
  down_seconds: number | null;
  sync_in_progress: boolean;
  /** slave_repl_offset. */
  offset: number;
  /** The master's offset (the listed master) minus this one: null without a reachable master. */
  lag_bytes: number | null;
}
