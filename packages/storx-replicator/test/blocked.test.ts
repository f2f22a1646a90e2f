// A batch the receiver refuses blocks replication, and every place an operator looks says so:
// run's /healthz and metrics, `storx-replicator status` (from run, and from the receiver's
// record when run cannot be asked), `backuptools-receiver status` and its metrics. Fixing the
// cause on the backup is picked up within seconds, not after max-retry-delay.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseLsn } from '@storx-backup/protocol';
import { main as receiverMain } from '@storx-backup/backuptools-receiver';
import { captureRun } from '@storx-backup/service-kit';
import { waitFor } from '@storx-backup/test-postgres';
import { main } from '../src/cli.js';
import type { StatusReport } from '../src/inspect/status-report.js';
import { configuredBySetup, type Pair, runReplicator, SCHEMA, slotConfirmed, SOURCE_DDL, startPair, tableDigest, waitForTableEqual } from './support.js';

let pair: Pair;
let configPath: string;
beforeAll(async () => {
  pair = await startPair({
    ddl: [...SOURCE_DDL, `CREATE DOMAIN "${SCHEMA}".mood AS text CHECK (VALUE <> '')`, `CREATE TABLE "${SCHEMA}".moods (id integer PRIMARY KEY, mood "${SCHEMA}".mood)`],
    receiverFlags: { tables: 'objects,segments,moods' },
  });
  ({ configPath } = await configuredBySetup(pair, 'replicator-blocked-'));
});
afterAll(async () => {
  await pair.close();
});

async function replicatorStatus(...flags: string[]): Promise<{ code: number; report: StatusReport; human: string }> {
  const json = await captureRun(main, ['status', '--json', '--config', configPath, ...flags]);
  const human = await captureRun(main, ['status', '--config', configPath, ...flags]);
  return { code: json.code, report: JSON.parse(json.stdout) as StatusReport, human: human.stdout };
}

async function receiverStatus(): Promise<{ code: number; json: { status: string; sources: { source_id: string; status: string; blocked: Record<string, unknown> | null }[] } }> {
  const run = await captureRun(receiverMain, ['status', '--json', '--database-url', pair.backupUrl]);
  return { code: run.code, json: JSON.parse(run.stdout) as never };
}

describe('blocked replication', () => {
  it('is reported by run, both status commands and both metrics, and resumes within seconds of the fix', async () => {
    const source = 'blocked-source';
    // A 5-minute max-retry-delay: only the short blocked-retry-interval can resume it in time.
    const flags = { 'replication.source-id': source, 'replication.tables': 'objects,segments,moods', 'replication.initial-snapshot': 'false', 'replication.max-retry-delay': '5m', 'replication.blocked-retry-interval': '300ms', 'replication.metrics-listen': '127.0.0.1:0' };
    const config = pair.config(flags);
    const running = runReplicator(config);
    try {
      await waitFor(async () => (await slotConfirmed(pair.source, config.slotName)) !== null && running.replicator.metricsAddress !== undefined, { description: 'slot created', timeoutMs: 30_000 });
      await pair.source.query("INSERT INTO objects (project_id, bucket_name, object_key, version) VALUES (gen_random_uuid(), 'b', 'before', 1)");
      await waitForTableEqual(pair, 'objects', 'object_key');

      // The backup has no domain "mood" (the receiver creates enums, never domains): it refuses the batch (422 TABLE_INCOMPATIBLE).
      await pair.source.query("INSERT INTO moods VALUES (1, 'happy'), (2, 'sad')");
      const { rows } = await pair.source.query<{ lsn: string }>('SELECT pg_current_wal_insert_lsn()::text AS lsn');
      await pair.source.query("INSERT INTO objects (project_id, bucket_name, object_key, version) VALUES (gen_random_uuid(), 'b', 'after', 1)");
      await waitFor(() => running.replicator.health().status === 'blocked', { description: 'run reports blocked', timeoutMs: 30_000 }).catch((error: unknown) => { throw new Error(JSON.stringify(running.replicator.health()), { cause: error }); });
      const health = running.replicator.health();
      expect(health.failure).toMatchObject({ code: 'TABLE_INCOMPATIBLE', http_status: 422, fix: expect.stringContaining('create missing types') as string });
      const healthz = await fetch(`${running.replicator.metricsAddress!}/healthz`);
      expect(healthz.status).toBe(503);
      expect(await healthz.json()).toMatchObject({ status: 'blocked', failure: { code: 'TABLE_INCOMPATIBLE', since: health.failure!['since'] } });
      expect(await running.replicator.metrics.registry.getSingleMetricAsString('storx_replicator_blocked')).toContain('storx_replicator_blocked{code="TABLE_INCOMPATIBLE"} 1');
      // Nothing skipped: the later change waits behind the refused one, the slot stays before it.
      expect((await tableDigest(pair.backup, 'objects', 'object_key')).count).toBe(1);
      expect(parseLsn((await slotConfirmed(pair.source, config.slotName))!) <= parseLsn(rows[0]!.lsn)).toBe(true);

      const port = new URL(running.replicator.metricsAddress!).port;
      const fromRun = await replicatorStatus('--replication.slot-name', config.slotName, '--replication.source-id', source, '--replication.metrics-listen', `127.0.0.1:${port}`);
      expect(fromRun.code).toBe(2);
      expect(fromRun.report.replication).toMatchObject({ blocked: true, run_health: 'blocked', failure: { reported_by: 'replicator', code: 'TABLE_INCOMPATIBLE', since: health.failure!['since'] } });
      expect(fromRun.report.problems).toContainEqual(expect.objectContaining({ severity: 'error', item: 'replication', message: expect.stringMatching(/^replication is blocked since .* the receiver refuses the batch at [0-9A-F]+\/[0-9A-F]+ with HTTP 422 TABLE_INCOMPATIBLE/) as string }));
      expect(fromRun.human).toMatch(/✗ replication: blocked since .* \(TABLE_INCOMPATIBLE\)\n {4}replication is blocked/);
      expect(fromRun.human).toContain('fix: make the backup table match the source');

      // metrics-listen off (or run not answering): the receiver's record says the same.
      const fromReceiver = await replicatorStatus('--replication.slot-name', config.slotName, '--replication.source-id', source);
      expect(fromReceiver.code).toBe(2);
      expect(fromReceiver.report.replication).toMatchObject({ blocked: true, run_health: null, failure: { reported_by: 'receiver', code: 'TABLE_INCOMPATIBLE', http_status: 422 } });
      const onReceiver = await receiverStatus();
      expect(onReceiver.code).toBe(2);
      expect(onReceiver.json.sources.find((entry) => entry.source_id === source)).toMatchObject({ status: 'blocked', blocked: { code: 'TABLE_INCOMPATIBLE' } });
      expect(await (await fetch(`${pair.receiver.url}/metrics`)).text()).toContain(`backuptools_source_blocked{source_id="${source}"`);

      // The fix, on the backup only: no restart of either side.
      await pair.backup.query(`CREATE SCHEMA IF NOT EXISTS "${SCHEMA}"`);
      await pair.backup.query(`CREATE DOMAIN "${SCHEMA}".mood AS text CHECK (VALUE <> '')`);
      await waitForTableEqual(pair, 'moods', 'id', 60_000);
      await waitForTableEqual(pair, 'objects', 'object_key');
      expect(running.replicator.health()).toEqual({ status: 'ok', failure: null });
      expect(await running.replicator.metrics.registry.getSingleMetricAsString('storx_replicator_blocked')).not.toContain('code="TABLE_INCOMPATIBLE"');
      expect(await (await fetch(`${pair.receiver.url}/metrics`)).text()).not.toContain(`backuptools_source_blocked{source_id="${source}"`);
      const after = await replicatorStatus('--replication.slot-name', config.slotName, '--replication.source-id', source, '--replication.metrics-listen', `127.0.0.1:${port}`);
      expect(after.report.replication).toEqual({ blocked: false, run_health: 'ok', failure: null });
      expect(after.report.problems.filter((problem) => problem.item === 'replication')).toEqual([]);
      const receiverAfter = await receiverStatus();
      expect(receiverAfter.json.sources.find((entry) => entry.source_id === source)).toMatchObject({ status: 'ok', blocked: null });
    } finally {
      await running.stop();
    }
  });
});
