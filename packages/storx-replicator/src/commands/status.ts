import { formatFlagsHelp, formatOptionsHelp, parseCommandLine } from '@storx-backup/service-kit';
import { DEFAULT_CONFIG_PATH, ENV_PREFIX, loadReplicatorConfig, REPLICATOR_OPTIONS } from '../config.js';
import { parseByteLimit } from '../inspect/byte-limit.js';
import { collectStatus } from '../inspect/collect-status.js';
import { formatStatus } from '../inspect/format-status.js';
import type { Command } from '@storx-backup/service-kit';

/** Default --max-lag-bytes: WAL a healthy replicator never holds back for long. */
const DEFAULT_MAX_LAG_BYTES = 1024 ** 3;

const FLAGS = {
  config: { type: 'string', description: `YAML config file (or STORX_CONFIG; default ${DEFAULT_CONFIG_PATH} when it exists)` },
  json: { type: 'boolean', description: 'print the report as one JSON object (fields below)' },
  'max-lag-bytes': { type: 'string', description: 'slot lag above which status warns: a size (512MiB, 1GiB) or bytes (default 1GiB)' },
  help: { type: 'boolean', short: 'h', description: 'show this help' },
} as const;

export const statusCommand: Command = {
  name: 'status',
  summary: 'show wal_level, the slot and its lag, the publication, the receiver and whether replication is blocked; exit 0/1/2',
  async run(argv, context) {
    const parsed = parseCommandLine(argv, REPLICATOR_OPTIONS, FLAGS, 'storx-replicator status');
    if (parsed.flags['help']) {
      context.stdout(`Usage: storx-replicator status [--config FILE] [--json] [--max-lag-bytes SIZE] [options]

Reads the source and pings the receiver, changing nothing (no slot or publication is created;
the receiver answers a ping without writing), and prints one line per item: ✓ fine, ! warning,
✗ error, - not checked. Like doctor, it asks the receiver whether the backup database could
take each table (prepared as its first batch would, in a transaction it rolls back). The receiver is skipped, with a note, while replication.webhook-url,
webhook-public-key or signing-key is not set.

Exit status:
  0  healthy
  1  warning: slot lag over --max-lag-bytes, slot not in use (no replicator streaming),
     slot wal_status unreserved, publication missing or not publishing every configured table
     (run fixes both, and this user may), receiver unreachable or unavailable (timeout, refused, 5xx, 429),
     run's deliveries failing (its /healthz says unhealthy), failover not ready (PostgreSQL
     below 17: a failover needs a resnapshot; on 17+ the slot without failover = true,
     synchronized_standby_slots not naming a standby's slot or naming an inactive one, a
     standby without sync_replication_slots, hot_standby_feedback, primary_slot_name, dbname
     in primary_conninfo or wal_level = logical, or without a synced, persistent, valid copy
     of the slot; a source host in the database URL that does not answer)
  2  error: replication blocked (the receiver refuses a batch: its code, fix and since when,
     from run's /healthz or else from the receiver's record), the backup database cannot take
     a table (a type it lacks: the CREATE statements read from the source), database unreachable, wal_level not logical,
     a publication this user can neither create nor change (the owner's statement is the fix), slot missing, not a pgoutput slot of
     this database, or invalidated (wal_status lost: a resnapshot is needed), key files that do
     not load, the receiver rejects our requests (401: signature or encryption key; other 4xx),
     or an invalid configuration, synchronized_standby_slots naming a slot the primary lacks
     or that is lost (logical decoding waits), no source host or several accepting writes

--json prints one object with these fields (null: not found out, for example the slot while
the database is unreachable):
  status              "ok" | "warning" | "error"
  exit_code           0 | 1 | 2
  checked_at          ISO 8601 time
  config_file         the config file read, or null
  source_id           replication.source-id (default: the database name)
  database            { reachable: boolean, error: string|null }
  wal_level           string|null
  slot                { name, exists, active, active_pid, plugin, confirmed_flush_lsn,
                        restart_lsn, wal_status, current_wal_lsn,
                        lag_bytes: pg_current_wal_lsn() - confirmed_flush_lsn (number|null),
                        max_lag_bytes: number }
  publication         { name, exists, all_tables, tables: ["\\"schema\\".\\"table\\""...],
                        missing_tables: configured tables it does not publish }
  receiver            { url, checked: boolean, reachable, accepted, http_status,
                        watermark_lsn: last commit the receiver applied (null: nothing yet),
                        error, note: why it was not checked }
  backup_tables       { checked: boolean, note: why not checked (null when checked),
                        tables: [{ table, ok: boolean, problem: string|null, fix: [...] }] }
  replication         { blocked: boolean|null (null: neither run nor the receiver could be asked),
                        run_health: "ok"|"unhealthy"|"blocked"|null (run's /healthz on
                          replication.metrics-listen; null: off or run not answering),
                        failure: null | { reported_by: "replicator"|"receiver", code,
                          http_status, message, fix, since, attempts, commit_lsn } }
  failover            { checked: boolean (false: no source host answered),
                        primary: "host:port"|null, server_version_num: number|null,
                        standbys: ["host:port"...] (the source hosts in recovery),
                        findings: [{ level: "ok"|"info"|"warning"|"error", host, text, fix: [...] }] }
                        (info: no standby configured, or the slot not made yet: no problem)
  problems            [{ severity: "warning"|"error",
                         item: "database"|"wal_level"|"slot"|"lag"|"publication"|"receiver"|"backup_tables"|
                               "replication"|"failover",
                         message, fix }]
LSNs are PostgreSQL's text form ("16/B374D848").

${formatFlagsHelp(FLAGS)}

Options (flags > environment > config file > defaults):
${formatOptionsHelp(REPLICATOR_OPTIONS, ENV_PREFIX)}
`);
      return 0;
    }
    const limit = parsed.flags['max-lag-bytes'];
    const maxLagBytes = typeof limit === 'string' ? parseByteLimit(limit, '--max-lag-bytes') : DEFAULT_MAX_LAG_BYTES;
    const config = loadReplicatorConfig({ env: context.env, flags: parsed.options, configFile: parsed.flags['config'] as string | undefined }, 'inspect');
    const report = await collectStatus(config, maxLagBytes);
    context.stdout(parsed.flags['json'] ? `${JSON.stringify(report, null, 2)}\n` : formatStatus(report));
    return report.exit_code;
  },
};
