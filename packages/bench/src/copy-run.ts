import { execFile } from 'node:child_process';
import { loadavg } from 'node:os';
import { promisify } from 'node:util';
import { SERVICE_BINARIES as BINARIES, waitFor } from '@storx-backup/test-postgres';
import type { BenchEnvironment } from './bench-environment.js';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { nativeInitialCopy } from './native-replication.js';
import { attempt } from './outcome.js';
import { hasSnapshotCommand } from './our-pipeline.js';
import { peakRssUntilExit, reapedChildrenCpuSeconds } from './proc-usage.js';
import type { CopyRep, CopySide, NotAvailable, Outcome } from './results.js';
import { qualified } from './schema.js';
import { clusterCpuBetween, profileDirFor, serviceUsage } from './side-run.js';
import type { RunContext } from './throughput-run.js';
import type { CopyWorkload } from './workloads.js';

const run = promisify(execFile);

/**
 * (g) Fills the source table with the rows to copy (once, before the first repetition), then
 * parks the change slots past them: the change workloads must never see them.
 */
export async function prepareCopy(env: BenchEnvironment, workload: CopyWorkload): Promise<void> {
  const table = qualified(workload.table);
  await env.source.query(`TRUNCATE ${table}`);
  const chunk = 100_000;
  for (let lo = 1; lo <= workload.rows; lo += chunk) await env.source.query(`INSERT INTO ${table} SELECT * FROM bench.object_rows($1, $2)`, [lo, Math.min(workload.rows, lo + chunk - 1)]);
  await env.source.query(`VACUUM ANALYZE ${table}`);
  await env.parkSlots();
}

/** One repetition of (g): native `copy_data = true` into an emptied target, then ours (when it exists). */
export async function runCopyRep(ctx: RunContext, workload: CopyWorkload, rep: number): Promise<Omit<CopyRep, 'build'>> {
  const { env, log } = ctx;
  const table = qualified(workload.table);
  const native = await attempt(
    `${workload.id} native`,
    log,
    async (): Promise<CopySide> => {
      await env.targets.native.query(`TRUNCATE ${table}`);
      const cpuBefore = await env.clusterCpu();
      const seconds = await nativeInitialCopy(env.source, env.targets.native, env.publisher, workload.table);
      const cpuAfter = await env.clusterCpu();
      return { status: 'ok', seconds, rowsPerSecond: workload.rows / seconds, verified: await env.matches('native', workload.table), ...clusterCpuBetween(cpuBefore, cpuAfter) };
    },
    () => Promise.resolve(),
  );
  const ours = await oursInitialCopy(ctx, workload, profileDirFor(ctx.cpuProfDir, `${workload.id}-rep${rep}`));
  const rate = (side: Outcome<CopySide> | NotAvailable): string => (side.status === 'ok' ? `${Math.round(side.rowsPerSecond).toLocaleString('en-US')} rows/s` : side.status);
  log(`  ${workload.id} copy rep ${rep}: native ${rate(native)}, ours ${rate(ours)}`);
  return { rep, loadavg: loadavg()[0]!, native, ours };
}

/**
 * Ours: `storx-replicator snapshot --tables TABLE --config FILE` with the receiver running (it
 * copies the table's rows through the receiver; reports "not available" for a build without the
 * command), timed until the command exits 0 and the backup table holds every row. The CPU of
 * both clusters is read around that window, the snapshot process's CPU from its exit (this
 * process's reaped children) and its peak RSS while it runs; the receiver's at the end.
 */
async function oursInitialCopy(ctx: RunContext, workload: CopyWorkload, cpuProfDir: string | undefined): Promise<Outcome<CopySide> | NotAvailable> {
  if (!(await hasSnapshotCommand())) return { status: 'not available', reason: 'storx-replicator has no "snapshot" command yet (issue #6)' };
  const { env, log } = ctx;
  const table = qualified(workload.table);
  return attempt(
    `${workload.id} ours`,
    log,
    async (): Promise<CopySide> => {
      await env.targets.ours.query(`TRUNCATE ${table}`);
      await env.ours.startReceiver(cpuProfDir);
      const receiverReady = (await env.ours.usage()).receiver;
      try {
        const profile = cpuProfDir === undefined ? [] : ['--cpu-prof', '--cpu-prof-dir', join(cpuProfDir, 'replicator')];
        if (cpuProfDir !== undefined) await mkdir(join(cpuProfDir, 'replicator'), { recursive: true });
        const cpuBefore = await env.clusterCpu();
        // The snapshot process's CPU is this process's reaped children's CPU around it: nothing
        // else is spawned while it runs (the receiver is a child too, but still running).
        const reapedBefore = await reapedChildrenCpuSeconds();
        const started = performance.now();
        const snapshot = run(process.execPath, [...profile, BINARIES.replicator, 'snapshot', '--tables', workload.table, '--config', env.ours.replicatorConfigPath, ...env.ours.replicatorFlags], { maxBuffer: 64 * 1024 * 1024 });
        const replicatorPeakRss = peakRssUntilExit(snapshot.child.pid, snapshot);
        await snapshot;
        await waitFor(
          async () => {
            const { rows } = await env.targets.ours.query<{ count: string }>(`SELECT count(*)::text AS count FROM ${table}`);
            return Number(rows[0]?.count) >= workload.rows;
          },
          { description: 'the snapshot to be applied', timeoutMs: 3_600_000, intervalMs: 20 },
        );
        const seconds = (performance.now() - started) / 1000;
        const cpuAfter = await env.clusterCpu();
        const replicator = { cpuSeconds: (await reapedChildrenCpuSeconds()) - reapedBefore, peakRssMiB: await replicatorPeakRss };
        const receiver = serviceUsage((await env.ours.usage()).receiver, receiverReady);
        return { status: 'ok', seconds, rowsPerSecond: workload.rows / seconds, verified: await env.matches('ours', workload.table), ...clusterCpuBetween(cpuBefore, cpuAfter), replicator, ...(receiver ? { receiver } : {}) };
      } finally {
        await env.ours.stop();
      }
    },
    () => env.ours.stop({ force: true }),
  );
}
