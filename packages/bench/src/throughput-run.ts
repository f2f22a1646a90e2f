import { loadavg } from 'node:os';
import type { BenchEnvironment } from './bench-environment.js';
import { createDecodeSlot, measureDecode } from './decode-ceiling.js';
import { attempt } from './outcome.js';
import type { ThroughputRep, ThroughputSide } from './results.js';
import { measureSide, nativeControl, oursControl, profileDirFor, type SideControl, type SideMeasurement, type SideTiming } from './side-run.js';
import type { Mode, ThroughputWorkload } from './workloads.js';

export interface RunContext {
  env: BenchEnvironment;
  log: (line: string) => void;
  /** Where CPU profiles of our services go (one sub-directory per run), or undefined. */
  cpuProfDir: string | undefined;
}

/**
 * One repetition of a throughput workload in one mode: native first, then ours, never at
 * the same time.
 *
 * - live: for each side, prepare, replication started, load, marker; the clock runs from the
 *   start of the load until the marker is applied. The load runs once per side (same rows).
 * - backlog: prepare, load once with both replications stopped, marker; then the decode
 *   ceiling, native's catch-up, ours's catch-up, all over that same WAL.
 */
export async function runThroughputRep(ctx: RunContext, workload: ThroughputWorkload, mode: Mode, rep: number): Promise<Omit<ThroughputRep, 'build'>> {
  const { env, log } = ctx;
  const native = nativeControl(env);
  const ours = oursControl(env, profileDirFor(ctx.cpuProfDir, `${workload.id}-${mode}-rep${rep}`));
  const result: Omit<ThroughputRep, 'build'> = { rep, loadavg: loadavg()[0]!, native: { status: 'failed', error: 'not run' }, ours: { status: 'failed', error: 'not run' } };
  const side = (control: SideControl, timing: () => Promise<SideTiming>) =>
    attempt(
      `${workload.id} ${mode} ${control.side}`,
      log,
      async () => toThroughput(await measureSide(env, control, workload.table, await timing()), workload.rows),
      () => control.stop({ force: true }),
    );

  if (mode === 'live') {
    const live = async (): Promise<SideTiming> => {
      await workload.prepare(env);
      await env.parkSlots();
      return { mode: 'live', load: () => workload.load(env.sourceUrl) };
    };
    result.native = await side(native, live);
    result.ours = await side(ours, live);
  } else {
    await workload.prepare(env);
    await env.parkSlots();
    await createDecodeSlot(env.source);
    const started = performance.now();
    await workload.load(env.sourceUrl);
    const loadSeconds = (performance.now() - started) / 1000;
    const marker = await env.mark();
    result.decode = await attempt(`${workload.id} decode`, log, () => measureDecode(env.source, marker.lsn, workload.rows), () => Promise.resolve());
    const backlog = (): Promise<SideTiming> => Promise.resolve({ mode: 'backlog', marker: marker.id, loadSeconds });
    result.native = await side(native, backlog);
    result.ours = await side(ours, backlog);
  }
  log(`  ${workload.id} ${mode.padEnd(7)} rep ${rep}: ${describe(result)}`);
  return result;
}

function toThroughput(measurement: SideMeasurement, rows: number): ThroughputSide {
  return { status: 'ok', ...measurement, rowsPerSecond: rows / measurement.seconds };
}

function describe(rep: Omit<ThroughputRep, 'build'>): string {
  const rate = (outcome: ThroughputRep['native'] | ThroughputRep['decode']): string => (outcome === undefined ? '' : outcome.status === 'ok' ? `${Math.round(outcome.rowsPerSecond).toLocaleString('en-US')} rows/s` : 'failed');
  const ratio = rep.native.status === 'ok' && rep.ours.status === 'ok' ? ` (ours/native ${(rep.ours.rowsPerSecond / rep.native.rowsPerSecond).toFixed(2)})` : '';
  const decode = rep.decode ? `, decode ${rate(rep.decode)}` : '';
  return `native ${rate(rep.native)}, ours ${rate(rep.ours)}${ratio}${decode}`;
}
