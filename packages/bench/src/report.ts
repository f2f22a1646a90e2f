import { type BenchResults, WARM_UP_MS } from './results.js';

/** The human-readable summary printed at the end of a run (the JSON file holds everything). */
export function formatReport(results: BenchResults): string {
  const lines: string[] = [];
  const { machine, options } = results;
  lines.push(`commit ${results.source.commit?.slice(0, 10) ?? 'unknown'} | ${results.postgres.version.split(',')[0]} | ${machine.cpus} CPUs (${machine.cpuModel}) | Node ${machine.node} | load average ${machine.loadavgStart[0]?.toFixed(1)} → ${machine.loadavgEnd[0]?.toFixed(1)}`);
  if (results.source.uncommitted.length > 0) lines.push(`measured uncommitted changes to: ${results.source.uncommitted.join(', ')}`);
  lines.push(`${options.smoke ? 'SMOKE sizes (numbers mean nothing), ' : ''}${options.fsync === true ? 'clusters with fsync=on, ' : ''}${options.scale !== 1 ? `scale ${options.scale}, ` : ''}${options.reps} repetition(s), medians${options.replicatorOptions.length > 0 ? `, replicator ${options.replicatorOptions.join(' ')}` : ''}${options.receiverOptions.length > 0 ? `, receiver ${options.receiverOptions.join(' ')}` : ''}`);

  if (results.throughput.length > 0) {
    lines.push('', 'Throughput: rows/s from load start (live) or replication start (backlog) until the backup has applied everything');
    const rows = results.throughput.map((result, index) => {
      const first = index === 0 || results.throughput[index - 1]!.workload !== result.workload;
      const m = result.median;
      return [
        first ? `${result.workload} ${result.title}` : '',
        result.mode,
        rate(m.nativeRowsPerSecond),
        rate(m.oursRowsPerSecond),
        m.ratio === null ? '-' : m.ratio.toFixed(2),
        result.mode === 'backlog' ? rate(m.decodeRowsPerSecond) : '',
        `${fixed(m.replicatorPeakRssMiB, 0)} / ${fixed(m.replicatorCpuSeconds, 1)}`,
        `${fixed(m.receiverPeakRssMiB, 0)} / ${fixed(m.receiverCpuSeconds, 1)}`,
      ];
    });
    lines.push(...table(['workload', 'mode', 'native rows/s', 'ours rows/s', 'ours/native', 'decode rows/s', 'replicator MiB / CPU s', 'receiver MiB / CPU s'], rows, [false, false, true, true, true, true, true, true]));

    lines.push('', 'PostgreSQL CPU seconds per run (every process of the cluster; live runs include the load on the source)');
    const cpuRows = results.throughput.map((result) => {
      const m = result.median;
      return [`${result.workload}`, result.mode, fixed(m.nativeSourcePgCpuSeconds, 1), fixed(m.nativeBackupPgCpuSeconds, 1), fixed(m.oursSourcePgCpuSeconds, 1), fixed(m.oursBackupPgCpuSeconds, 1), result.mode === 'backlog' ? fixed(m.oursStartupSeconds, 2) : ''];
    });
    lines.push(...table(['workload', 'mode', 'native source', 'native backup', 'ours source', 'ours backup', 'ours start-up s'], cpuRows, [false, false, true, true, true, true, true]));
  }

  if (results.latency !== null) {
    const { native, ours } = results.latency.median;
    const triple = (p: typeof native): string => `${fixed(p.p50Ms, 1)} / ${fixed(p.p90Ms, 1)} / ${fixed(p.p99Ms, 1)}`;
    lines.push('', `Latency, commit to apply (ms, p50 / p90 / p99): f ${results.latency.title}`);
    const warm = (p: typeof native): string => `${fixed(p.firstMs, 1)} / ${fixed(p.warmP99Ms, 1)}`;
    lines.push(...table(['', 'native', 'ours'], [['p50 / p90 / p99 ms', triple(native), triple(ours)], [`first tx / p99 after ${WARM_UP_MS / 1000} s`, warm(native), warm(ours)]], [false, true, true]));
  }

  if (results.copy !== null) {
    const m = results.copy.median;
    const oursText = m.ours === 'not available' ? `not available (${notAvailableReason(results)})` : `${rate(m.oursRowsPerSecond)} rows/s (ours/native ${fixed(m.ratio, 2)})`;
    lines.push('', `Initial copy: g ${results.copy.title}: native copy_data ${rate(m.nativeRowsPerSecond)} rows/s, ours ${oursText}`);
    if (m.ours === 'measured') {
      lines.push('', 'Initial copy, CPU seconds (every process of each cluster; ours: the snapshot process and the receiver, start-up included) and peak RSS');
      const cells = [fixed(m.nativeSourcePgCpuSeconds, 1), fixed(m.nativeBackupPgCpuSeconds, 1), fixed(m.oursSourcePgCpuSeconds, 1), fixed(m.oursBackupPgCpuSeconds, 1), `${fixed(m.replicatorPeakRssMiB, 0)} / ${fixed(m.replicatorCpuSeconds, 1)}`, `${fixed(m.receiverPeakRssMiB, 0)} / ${fixed(m.receiverCpuSeconds, 1)}`];
      lines.push(...table(['native source', 'native backup', 'ours source', 'ours backup', 'replicator MiB / CPU s', 'receiver MiB / CPU s'], [cells], cells.map(() => true)));
    }
  }

  const problems = findProblems(results);
  if (problems.length > 0) lines.push('', 'Problems:', ...problems.map((problem) => `  ${problem}`));
  if (results.source.builds.length > 1) {
    lines.push('', `Warning: the services' built code changed during the benchmark (${results.source.builds.length} builds: ${results.source.builds.join(', ')}; "build" per repetition in the JSON): something ran a build in this working tree.`);
  }
  return `${lines.join('\n')}\n`;
}

function notAvailableReason(results: BenchResults): string {
  for (const rep of results.copy?.reps ?? []) if (rep.ours.status === 'not available') return rep.ours.reason;
  return '';
}

/** Failed runs and runs whose target did not equal the source afterwards. */
export function findProblems(results: BenchResults): string[] {
  const problems: string[] = [];
  const check = (what: string, outcome: { status: string; error?: string; verified?: boolean } | undefined): void => {
    if (outcome === undefined) return;
    if (outcome.status === 'failed') problems.push(`${what}: failed: ${outcome.error}`);
    else if (outcome.verified === false) problems.push(`${what}: the target did NOT equal the source afterwards`);
  };
  for (const result of results.throughput) {
    for (const rep of result.reps) {
      check(`${result.workload} ${result.mode} rep ${rep.rep} native`, rep.native);
      check(`${result.workload} ${result.mode} rep ${rep.rep} ours`, rep.ours);
      if (rep.ours.status === 'ok' && rep.ours.eventsApplied !== undefined && rep.ours.eventsApplied < result.rows) {
        problems.push(`${result.workload} ${result.mode} rep ${rep.rep} ours: the receiver applied ${rep.ours.eventsApplied} events for ${result.rows} rows: the rows did not come through the stream`);
      }
      check(`${result.workload} ${result.mode} rep ${rep.rep} decode`, rep.decode);
    }
  }
  for (const rep of results.latency?.reps ?? []) {
    check(`f rep ${rep.rep} native`, rep.native);
    check(`f rep ${rep.rep} ours`, rep.ours);
  }
  for (const rep of results.copy?.reps ?? []) {
    check(`g rep ${rep.rep} native`, rep.native);
    check(`g rep ${rep.rep} ours`, rep.ours);
  }
  return problems;
}

function rate(value: number | null): string {
  return value === null ? '-' : Math.round(value).toLocaleString('en-US');
}

function fixed(value: number | null, digits: number): string {
  return value === null || !Number.isFinite(value) ? '-' : value.toFixed(digits);
}

function table(header: string[], rows: string[][], rightAligned: boolean[]): string[] {
  const widths = header.map((title, column) => Math.max(title.length, ...rows.map((row) => row[column]!.length)));
  const format = (row: string[]): string =>
    row
      .map((cell, column) => (rightAligned[column] ? cell.padStart(widths[column]!) : cell.padEnd(widths[column]!)))
      .join('  ')
      .trimEnd();
  return [format(header), widths.map((width) => '-'.repeat(width)).join('  '), ...rows.map(format)];
}
