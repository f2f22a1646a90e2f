import { createLogger, formatFlagsHelp, formatOptionsHelp, parseCommandLine, type Command, UsageError } from '@storx-backup/service-kit';
import { DEFAULT_CONFIG_PATH, ENV_PREFIX, loadReplicatorConfig, REPLICATOR_OPTIONS } from '../config.js';
import { ReplicatorError } from '../errors.js';
import { loadReplicatorKeys } from '../replicator-keys.js';
import { findPrimary } from '../source/primary-locator.js';
import { withSourceClient } from '../source/source-connection.js';
import { requireTables } from '../source/source-tables.js';
import { formatVerify, verifyReport } from '../verify/format-verify.js';
import { ReceiverDigests, verifyUrlOf } from '../verify/receiver-digests.js';
import { type TableVerdict, verifyTable } from '../verify/verify-table.js';

/** Default --range-rows: a range is one receiver statement over at most this many rows. */
export const DEFAULT_RANGE_ROWS = 10_000;
/** Default --rechecks. */
export const DEFAULT_RECHECKS = 5;
/** Default --catch-up-timeout, seconds. */
const DEFAULT_CATCH_UP_SECONDS = 60;

const FLAGS = {
  config: { type: 'string', description: `YAML config file (or STORX_CONFIG; default ${DEFAULT_CONFIG_PATH} when it exists)` },
  tables: { type: 'string', description: 'comma-separated tables to compare (default: every table in replication.tables)' },
  json: { type: 'boolean', description: 'print the report as one JSON object (fields below)' },
  'range-rows': { type: 'string', description: `keys per compared range (default ${DEFAULT_RANGE_ROWS}; 1-1000000)` },
  rechecks: { type: 'string', description: `times a differing range is hashed again on both sides before it is reported (default ${DEFAULT_RECHECKS})` },
  'catch-up-timeout': { type: 'string', description: `seconds to wait for the backup to reach the source's position (default ${DEFAULT_CATCH_UP_SECONDS})` },
  help: { type: 'boolean', short: 'h', description: 'show this help' },
} as const;

export const verifyCommand: Command = {
  name: 'verify',
  summary: 'compare the backup with the source, table by table, while replication runs; exit 0 equal, 1 different',
  async run(argv, context) {
    const parsed = parseCommandLine(argv, REPLICATOR_OPTIONS, FLAGS, 'storx-replicator verify');
    if (parsed.flags['help']) {
      context.stdout(`Usage: storx-replicator verify [--tables a,b] [--json] [--range-rows N] [--config FILE] [options]

Compares each table of the source with its backup while "run" streams, changing nothing. The
source's rows are cut into ranges of --range-rows keys in primary-key order; each side computes
every range's row count and the md5 of its rows' text in key order (the receiver on a signed,
encrypted request to POST /verify beside its webhook path; no row leaves either host in clear).
The backup's side is computed once it has every change the source had when it hashed (the
slot, or the receiver's watermark, at or past that position), and a range that differs is
hashed again on both sides, up to --rechecks times, so that changes in flight are not reported.
A table without a primary key is compared as one range, by the multiset of its rows.

Exit status:
  0  every table equal
  1  a table differs (its differing key ranges and "fix: storx-replicator resync TABLE" are
     printed), is missing or lacks columns on the backup, or the comparison failed (the
     backup did not catch up within --catch-up-timeout, the receiver refused or is unreachable)
  2  configuration or command-line mistake (a table not in replication.tables, a bad value)

--json prints one object:
  status        "equal" | "different"
  exit_code     0 | 1
  checked_at    ISO 8601 time
  source_id     replication.source-id
  range_rows    keys per range
  tables        [{ name, schema, table, key: [primary key columns],
                   status: "equal"|"different"|"missing_on_backup"|"columns_missing"|"not_verified",
                   ranges, source_rows, backup_rows (null: not read), source_lsn (the first pass),
                   differences: [{ first_key, last_key (the source's first and last key in the
                     range, one text per key column), from, to (the range compared: from ≤ key <
                     to, null: unbounded), source_rows, backup_rows (range_rows + 1: more than
                     range_rows), rechecks }],
                   missing_columns, message, fix ("storx-replicator resync NAME" or null),
                   source_seconds, backup_seconds }]
  speed         { source_rows_per_second, backup_rows_per_second } (first pass)

${formatFlagsHelp(FLAGS)}

Options (flags > environment > config file > defaults):
${formatOptionsHelp(REPLICATOR_OPTIONS, ENV_PREFIX)}
`);
      return 0;
    }
    if (parsed.positionals.length > 0) throw new UsageError(`verify takes no table names as arguments: use --tables ${parsed.positionals.join(',')}`);
    const rangeRows = integerFlag(parsed.flags['range-rows'], DEFAULT_RANGE_ROWS, '--range-rows', 1, 1_000_000);
    const rechecks = integerFlag(parsed.flags['rechecks'], DEFAULT_RECHECKS, '--rechecks', 0, 100);
    const catchUpSeconds = integerFlag(parsed.flags['catch-up-timeout'], DEFAULT_CATCH_UP_SECONDS, '--catch-up-timeout', 1, 86_400);
    const config = loadReplicatorConfig({ env: context.env, flags: parsed.options, configFile: parsed.flags['config'] as string | undefined });
    const requested = (parsed.flags['tables'] as string | undefined)?.split(',').map((name) => name.trim()).filter((name) => name !== '');
    const names = requested && requested.length > 0 ? requested : config.tables;
    const unknown = names.filter((name) => !config.tables.includes(name));
    if (unknown.length > 0) throw new UsageError(`--tables: not in replication.tables: ${unknown.join(', ')} (configured: ${config.tables.join(', ')})`);
    if (config.format === 'seed-v1') throw new ReplicatorError('VERIFY_NOT_POSSIBLE', 'verify needs format v3 or v2: a receiver written from the seed document has no POST /verify');

    const logger = createLogger({ name: 'storx-replicator', level: config.logLevel });
    const keys = await loadReplicatorKeys(config);
    const receiver = new ReceiverDigests({ url: verifyUrlOf(config.webhookUrl), sourceId: config.sourceId, slot: config.slotName, recipient: keys.recipient, signingKey: keys.signing, timeoutMs: Math.max(config.webhookTimeoutMs, 120_000), ca: keys.ca });
    try {
      const databaseUrl = await findPrimary(config.sourceUrls, logger);
      const verdicts = await withSourceClient(databaseUrl, async (source) => {
        const tables = await requireTables(source, names);
        const results: TableVerdict[] = [];
        for (const table of tables) results.push(await verifyTable(source, receiver, table, { slotName: config.slotName, rangeRows, rechecks, catchUpTimeoutMs: catchUpSeconds * 1000 }));
        return results;
      });
      const report = verifyReport(config.sourceId, rangeRows, verdicts);
      context.stdout(parsed.flags['json'] ? `${JSON.stringify(report, null, 2)}\n` : formatVerify(report));
      return report.exit_code;
    } finally {
      receiver.close();
    }
  },
};

function integerFlag(value: string | boolean | undefined, fallback: number, flag: string, min: number, max: number): number {
  if (value === undefined) return fallback;
  const number = Number(value);
  if (!Number.isSafeInteger(number) || number < min || number > max) throw new UsageError(`${flag}: ${JSON.stringify(value)} is not a whole number from ${min} to ${max}`);
  return number;
}
