import { formatLsn } from '@storx-backup/protocol';
import { createLogger, formatFlagsHelp, formatOptionsHelp, parseCommandLine, parseDuration, UsageError } from '@storx-backup/service-kit';
import { DATABASE_OPTIONS, ENV_PREFIX, loadReceiverConfig } from '../config.js';
import { createBackupDb } from '../db.js';
import { readWatermarks, type WatermarkRow } from '../apply/watermark-store.js';
import { describeRefusal } from '../refusals/refusal-log.js';
import { readRefusals, type Refusal } from '../refusals/refusal-store.js';
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
    const parsed = parseCommandLine(argv, DATABASE_OPTIONS, FLAGS, 'backuptools-receiver status');
    if (parsed.flags['help']) {
      context.stdout(`Usage: backuptools-receiver status [--config FILE] [--json] [--max-age 10m]

Reads the watermarks and the recorded refusals from the backup database. A source whose last
batch this receiver refused for good (a 4xx such as TABLE_INCOMPATIBLE, CHUNK_OUT_OF_ORDER) is
blocked: nothing from it applies until the cause is fixed. It is listed with the refusal's code,
message, fix and since when, until a batch of that source applies again.

Exit code: 0 healthy, 1 warning (a source idle for longer than --max-age, or no source has sent
anything yet), 2 error (a source is blocked, or the database is unreachable or not migrated).

--json prints { status: "ok"|"warning"|"error", sources: [...] }; each source has source_id,
slot, watermark_lsn, chunk_index, chunk_last, last_applied_at, seconds_since_apply,
last_source_commit_at, batches_applied, events_applied, status ("ok"|"stale"|"blocked") and
blocked (null, or { code, http_status, message, fix, commit_lsn, chunk_index, since,
last_refused_at, attempts }).

${formatFlagsHelp(FLAGS)}

Options (flags > environment > config file > defaults):
${formatOptionsHelp(DATABASE_OPTIONS, ENV_PREFIX)}
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
    let refusals: Refusal[];
    try {
      rows = await readWatermarks(db, config.stateSchema);
      refusals = await readRefusals(db, config.stateSchema);
    } catch (error) {
      const message = `cannot read the state from ${config.stateSchema} (watermarks, refusals): ${(error as Error).message}`;
      if (parsed.flags['json']) context.stdout(`${JSON.stringify({ status: 'error', error: message })}\n`);
      else context.stderr(`error: ${message}\n`);
      return STATUS_ERROR;
    } finally {
      await db.destroy();
    }

    const now = Date.now();
    const refusalOf = (sourceId: string, slot: string) => refusals.find((refusal) => refusal.sourceId === sourceId && refusal.slot === slot);
    // A source refused from its very first batch has no applied watermark yet, but is listed.
    for (const refusal of refusals) {
      if (!rows.some((row) => row.sourceId === refusal.sourceId && row.slot === refusal.slot)) rows.push(neverApplied(refusal));
    }
    const sources = rows.map((row) => {
      const secondsSince = row.appliedAt === null ? null : Math.round((now - row.appliedAt.getTime()) / 1000);
      const stale = maxAgeMs !== undefined && (secondsSince === null || secondsSince * 1000 > maxAgeMs);
      const refusal = refusalOf(row.sourceId, row.slot);
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
        status: refusal !== undefined ? 'blocked' : stale ? 'stale' : 'ok',
        blocked: refusal === undefined ? null : describeRefusal(refusal),
      };
    });
    const status = sources.some((source) => source.status === 'blocked') ? 'error' : sources.length === 0 || sources.some((source) => source.status !== 'ok') ? 'warning' : 'ok';
    if (parsed.flags['json']) {
      context.stdout(`${JSON.stringify({ status, sources }, null, 2)}\n`);
    } else if (sources.length === 0) {
      context.stdout('no source has applied a batch yet\n');
    } else {
      for (const source of sources) {
        context.stdout(
          `${source.status === 'ok' ? '✓' : source.status === 'blocked' ? '✗' : '!'} ${source.source_id} (slot ${source.slot}): watermark ${source.watermark_lsn ?? '-'}` +
            `${source.chunk_last ? '' : ` (chunk ${source.chunk_index}, transaction incomplete)`}, last apply ${source.last_applied_at ?? 'never'}` +
            `${source.seconds_since_apply === null ? '' : ` (${source.seconds_since_apply}s ago)`}, ${plural(source.batches_applied, 'batch', 'batches')}, ${plural(source.events_applied, 'event', 'events')}\n`,
        );
        const refusal = refusalOf(source.source_id, source.slot);
        if (refusal !== undefined) {
          const blocked = describeRefusal(refusal);
          context.stdout(
            `    blocked since ${String(blocked['since'])}: the batch at ${refusal.commitLsn ?? '?'} (chunk ${refusal.chunkIndex ?? '?'}) was refused ${plural(String(refusal.attempts), 'time', 'times')} with HTTP ${refusal.httpStatus} ${refusal.code}: ${refusal.message}\n` +
              `    fix: ${String(blocked['fix'])}; the replicator retries by itself once the cause is gone\n`,
          );
        }
      }
    }
    return status === 'error' ? STATUS_ERROR : status === 'ok' ? STATUS_OK : STATUS_WARNING;
  },
};

function neverApplied(refusal: Refusal): WatermarkRow {
  return { sourceId: refusal.sourceId, slot: refusal.slot, commitLsn: undefined, chunkIndex: 0, chunkLast: true, appliedAt: null, sourceCommittedAt: null, batchesApplied: 0n, eventsApplied: 0n };
}

function plural(count: string, one: string, many: string): string {
  return `${count} ${count === '1' ? one : many}`;
}
