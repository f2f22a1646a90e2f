import { loadavg } from 'node:os';
import type pg from 'pg';
import { attempt } from './outcome.js';
import { type LatencyRep, type LatencyStats, WARM_UP_MS } from './results.js';
import { qualified } from './schema.js';
import { measureSide, nativeControl, oursControl, profileDirFor, type SideControl } from './side-run.js';
import type { RunContext } from './throughput-run.js';
import { type LatencyWorkload, trickleLoad } from './workloads.js';

/**
 * (f) One repetition: for each side (native first), replication running, `ticks` single-row
 * transactions at a fixed rate. Each row carries the source's clock_timestamp() at insert
 * (microseconds before its COMMIT); the target's `applied_at` default stamps it when applied.
 * Both clusters share the machine's clock.
 */
export async function runLatencyRep(ctx: RunContext, workload: LatencyWorkload, rep: number): Promise<Omit<LatencyRep, 'build'>> {
  const { env, log } = ctx;
  const side = (control: SideControl) =>
    attempt(
      `${workload.id} ${control.side}`,
      log,
      async (): Promise<LatencyStats> => {
        await env.everywhere(`TRUNCATE ${qualified('ticks')}`);
        await env.parkSlots();
        const measured = await measureSide(env, control, workload.table, { mode: 'live', load: () => trickleLoad(env.sourceUrl, workload.ticks, workload.ratePerSecond) });
        return {
          ...(await latencyStats(env.targets[control.side])),
          verified: measured.verified,
          ...(measured.replicator ? { replicator: measured.replicator } : {}),
          ...(measured.receiver ? { receiver: measured.receiver } : {}),
        };
      },
      () => control.stop({ force: true }),
    );
  const result: Omit<LatencyRep, 'build'> = { rep, loadavg: loadavg()[0]!, native: await side(nativeControl(env)), ours: await side(oursControl(env, profileDirFor(ctx.cpuProfDir, `${workload.id}-rep${rep}`))) };
  const text = (stats: LatencyRep['native']): string => (stats.status === 'ok' ? `p50 ${stats.p50Ms.toFixed(1)} / p90 ${stats.p90Ms.toFixed(1)} / p99 ${stats.p99Ms.toFixed(1)} ms (first ${stats.firstMs.toFixed(1)}, p99 after ${WARM_UP_MS / 1000} s ${stats.warmP99Ms.toFixed(1)})` : 'failed');
  log(`  ${workload.id} latency rep ${rep}: native ${text(result.native)}, ours ${text(result.ours)}`);
  return result;
}

async function latencyStats(target: pg.Client): Promise<Omit<LatencyStats, 'verified'>> {
  const { rows } = await target.query<{ count: number; p50: number; p90: number; p99: number; max: number; first: number; warm_p99: number | null }>(
    `WITH t AS (SELECT committed_at, extract(epoch FROM applied_at - committed_at)::float8 * 1000 AS ms FROM ${qualified('ticks')})
     SELECT count(*)::integer AS count,
            percentile_cont(0.5) WITHIN GROUP (ORDER BY ms) AS p50,
            percentile_cont(0.9) WITHIN GROUP (ORDER BY ms) AS p90,
            percentile_cont(0.99) WITHIN GROUP (ORDER BY ms) AS p99,
            max(ms) AS max,
            (SELECT ms FROM t ORDER BY committed_at LIMIT 1) AS first,
            (SELECT percentile_cont(0.99) WITHIN GROUP (ORDER BY ms) FROM t WHERE committed_at >= (SELECT min(committed_at) FROM t) + make_interval(secs => ${WARM_UP_MS / 1000})) AS warm_p99
     FROM t`,
  );
  const row = rows[0]!;
  return { status: 'ok', count: row.count, p50Ms: row.p50, p90Ms: row.p90, p99Ms: row.p99, maxMs: row.max, firstMs: row.first, warmP99Ms: row.warm_p99 ?? Number.NaN };
}
