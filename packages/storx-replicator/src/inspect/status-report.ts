/**
 * What `storx-replicator status --json` prints. Field names are snake_case and stable: scripts
 * and monitoring read them. A value the command could not find out is `null` (for example the
 * slot when the database is unreachable), never omitted.
 */
export interface StatusReport {
  /** ok (exit 0), warning (exit 1) or error (exit 2): the worst problem. */
  status: StatusLevel;
  exit_code: 0 | 1 | 2;
  checked_at: string;
  config_file: string | null;
  source_id: string;
  database: { reachable: boolean; error: string | null };
  wal_level: string | null;
  slot: {
    name: string;
    exists: boolean | null;
    active: boolean | null;
    active_pid: number | null;
    plugin: string | null;
    confirmed_flush_lsn: string | null;
    restart_lsn: string | null;
    wal_status: string | null;
    current_wal_lsn: string | null;
    /** pg_current_wal_lsn() - confirmed_flush_lsn: WAL the slot holds back on the source. */
    lag_bytes: number | null;
    max_lag_bytes: number;
  };
  publication: {
    name: string;
    exists: boolean | null;
    all_tables: boolean | null;
    /** What it publishes, as `"schema"."table"`. */
    tables: string[];
    /** Configured tables it does not publish (run adds them). */
    missing_tables: string[];
  };
  receiver: {
    url: string | null;
    /** False when the webhook settings are incomplete (see `note`). */
    checked: boolean;
    /** An HTTP answer came back. */
    reachable: boolean | null;
    /** It answered our signed ping with 200. */
    accepted: boolean | null;
    http_status: number | null;
    /** The last commit the receiver applied from this source and slot (null: nothing yet). */
    watermark_lsn: string | null;
    error: string | null;
    note: string | null;
  };
  /** Whether the backup database could take each configured table (the question doctor asks: the receiver prepares each as its first batch would, and rolls back). */
  backup_tables: {
    /** false: not asked (see `note`). */
    checked: boolean;
    /** Why not asked, or why the receiver could not say (an older receiver). */
    note: string | null;
    tables: { table: string; ok: boolean; problem: string | null; fix: string[] }[];
  };
  replication: {
    /** true: the receiver refuses a batch and nothing moves until the cause is fixed; null: not known (neither side could be asked). */
    blocked: boolean | null;
    /** What the local run says on its /healthz (replication.metrics-listen); null when off or not running. */
    run_health: 'ok' | 'unhealthy' | 'blocked' | null;
    /** The refusal (or, unhealthy, the failure) and its fix, from run's /healthz or else the receiver's record. */
    failure: { reported_by: 'replicator' | 'receiver'; code: string; http_status: number | null; message: string; fix: string; since: string; attempts: number | null; commit_lsn: string | null } | null;
  };
  /** Whether the stream survives a failover of the source (every host `database` names; docs/operations.md, "Failover"). */
  failover: {
    /** false: no source host answered. */
    checked: boolean;
    /** host:port of the one host not in recovery (null: none, or several). */
    primary: string | null;
    server_version_num: number | null;
    /** host:port of each source host in recovery. */
    standbys: string[];
    /** Everything checked: level ok, info (no problem: no standby configured, the slot not made yet), warning or error. */
    findings: { level: 'ok' | 'info' | 'warning' | 'error'; host: string | null; text: string; fix: string[] }[];
  };
  problems: StatusProblem[];
}

export type StatusLevel = 'ok' | 'warning' | 'error';

export interface StatusProblem {
  severity: 'warning' | 'error';
  item: 'database' | 'wal_level' | 'slot' | 'lag' | 'publication' | 'receiver' | 'backup_tables' | 'replication' | 'failover';
  message: string;
  fix: string;
}

/** Exit 2 for any error, else 1 for any warning, else 0. */
export function statusLevel(problems: readonly StatusProblem[]): { status: StatusLevel; exit_code: 0 | 1 | 2 } {
  if (problems.some((problem) => problem.severity === 'error')) return { status: 'error', exit_code: 2 };
  if (problems.length > 0) return { status: 'warning', exit_code: 1 };
  return { status: 'ok', exit_code: 0 };
}
