import { formatLsn } from '@storx-backup/protocol';
import { createLogger, formatFlagsHelp, parseCommandLine, parseDuration, UsageError } from '@storx-backup/service-kit';
import { loadReceiverConfig, RECEIVER_OPTIONS } from '../config.js';
import { createBackupDb } from '../db.js';
import { readWatermarks, type WatermarkRow } from '../apply/watermark-store.js';
import type { Command } from '@storx-backup/service-kit';

const FLAGS = {
  config: { type: 'string', description: 'YAML config file (or BACKUPTOOLS_CONFIG)' },
  json: { type: 'boolean', description: 'print JSON' },
  'max-age': { type: 'string', description: 'warn (exit 1) when a source applied nothing for longer than this, e.g. 10m (default: never)' },
  help: { type: 'boolean', short: 'h', description: 'show this help' },
} as const;

/** Exit codes, for cron and alerting. */
export const STATUS_OK = 0;
export const STATUS_WARNING = 1;
export const STATUS_ERROR = 2;

export const statusCommand: Command = {
  name: 'status',
  summary: 'per source: watermark, last apply, applied counts (exit 0 ok, 1 warning, 2 error)',
  async run(argv, context) {
    const parsed = parseCommandLine(argv, RECEIVER_OPTIONS, FLAGS, 'backuptools-receiver status');
    if (parsed.flags['help']) {
      context.stdout(`Usage: backuptools-receiver status [--config FILE] [--json] [--max-age 10m]

Reads the watermarks from the backup database. Exit code: 0 healthy, 1 warning (a source idle
for longer than --max-age, or no source has sent anything yet), 2 error (database unreachable
or not migrated).

${formatFlagsHelp(FLAGS)}
`);
      return 0;
    }
    const maxAgeText = parsed.flags['max-age'] as string | undefined;
    let maxAgeMs: number | undefined;
    try {
      maxAgeMs = maxAgeText === undefined ? undefined : parseDuration(maxAgeText);
    } catch (error) {
      throw new UsageError(`--max-age: ${(error as Error).message}`);
    }
    const config = loadReceiverConfig({ env: context.env, flags: parsed.options, configFile: parsed.flags['config'] as string | undefined }, 'database');
    const { db } = createBackupDb(config.databaseUrl, 1, createLogger({ name: 'backuptools-receiver', level: 'silent' }));
    let rows: WatermarkRow[];
    try {
      rows = await readWatermarks(db, config.stateSchema);
    } catch (error) {
      const message = `cannot read watermarks from ${config.stateSchema}.watermarks: ${(error as Error).message}`;
      if (parsed.flags['json']) context.stdout(`${JSON.stringify({ status: 'error', error: message })}\n`);
      else context.stderr(`error: ${message}\n`);
      return STATUS_ERROR;
    } finally {
      await db.destroy();
    }

    const now = Date.now();
    const sources = rows.map((row) => {
      const secondsSince = row.appliedAt === null ? null : Math.round((now - row.appliedAt.getTime()) / 1000);
      const stale = maxAgeMs !== undefined && (secondsSince === null || secondsSince * 1000 > maxAgeMs);
      return {
        source_id: row.sourceId,
        slot: row.slot,
        watermark_lsn: row.commitLsn === undefined ? null : formatLsn(row.commitLsn),
        chunk_index: row.chunkIndex,
        chunk_last: row.chunkLast,
        last_applied_at: row.appliedAt?.toISOString() ?? null,
        seconds_since_apply: secondsSince,
        last_source_commit_at: row.sourceCommittedAt?.toISOString() ?? null,
        batches_applied: row.batchesApplied.toString(),
        events_applied: row.eventsApplied.toString(),
        status: stale ? 'stale' : 'ok',
      };
    });
    const status = sources.length === 0 || sources.some((source) => source.status !== 'ok') ? 'warning' : 'ok';
    if (parsed.flags['json']) {
      context.stdout(`${JSON.stringify({ status, sources }, null, 2)}\n`);
    } else if (sources.length === 0) {
      context.stdout('no source has applied a batch yet\n');
    } else {
      for (const source of sources) {
        context.stdout(
          `${source.status === 'ok' ? '✓' : '!'} ${source.source_id} (slot ${source.slot}): watermark ${source.watermark_lsn ?? '-'}` +
            `${source.chunk_last ? '' : ` (chunk ${source.chunk_index}, transaction incomplete)`}, last apply ${source.last_applied_at ?? 'never'}` +
            `${source.seconds_since_apply === null ? '' : ` (${source.seconds_since_apply}s ago)`}, ${source.batches_applied} batches, ${source.events_applied} events\n`,
        );
      }
    }
    return status === 'ok' ? STATUS_OK : STATUS_WARNING;
  },
};
