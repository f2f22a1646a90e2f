import { execFileSync } from 'node:child_process';
import { readdir, readFile } from 'node:fs/promises';
import { peakRssBytes } from '@storx-backup/test-postgres';

/** What one process used, read from /proc (Linux). */
export interface ProcessUsage {
  /** VmHWM: the peak resident set size of the process's whole life, MiB. */
  peakRssMiB: number;
  /** User + system CPU time of the process's whole life, seconds. */
  cpuSeconds: number;
}

let ticksPerSecond: number | undefined;

/** `getconf CLK_TCK`: the unit of the times in /proc/<pid>/stat (100 almost everywhere). */
function clockTicks(): number {
  if (ticksPerSecond === undefined) {
    try {
      ticksPerSecond = Number.parseInt(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }), 10) || 100;
    } catch {
      ticksPerSecond = 100;
    }
  }
  return ticksPerSecond;
}

interface Stat {
  pid: number;
  ppid: number;
  /** utime + stime, ticks. */
  own: number;
  /** cutime + cstime: children that exited and were waited for, ticks. */
  reaped: number;
}

function parseStat(text: string): Stat {
  // The command name (field 2) may hold spaces and parentheses: split after the last ')'.
  const close = text.lastIndexOf(')');
  const pid = Number.parseInt(text, 10);
  const fields = text.slice(close + 2).split(' ');
  // fields[0] is field 3 (state): utime is field 14, stime 15, cutime 16, cstime 17.
  const at = (field: number): number => Number(fields[field - 3]);
  return { pid, ppid: at(4), own: at(14) + at(15), reaped: at(16) + at(17) };
}

async function readStat(pid: number): Promise<Stat | undefined> {
  try {
    return parseStat(await readFile(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return undefined;
  }
}

/** Peak RSS and CPU time of a running process; undefined when it is gone or there is no /proc. */
export async function processUsage(pid: number | undefined): Promise<ProcessUsage | undefined> {
  if (pid === undefined) return undefined;
  const [stat, peak] = await Promise.all([readStat(pid), peakRssBytes(pid).catch(() => undefined)]);
  if (stat === undefined || peak === undefined) return undefined;
  return { peakRssMiB: peak / 2 ** 20, cpuSeconds: stat.own / clockTicks() };
}

/**
 * CPU seconds of this process's children that have exited and been waited for (cutime +
 * cstime): the difference around a child's whole life is its CPU time, even after it is gone.
 */
export async function reapedChildrenCpuSeconds(): Promise<number> {
  const stat = await readStat(process.pid);
  return stat === undefined ? Number.NaN : stat.reaped / clockTicks();
}

/**
 * The peak RSS (VmHWM, MiB) of a process that exits on its own: read every `intervalMs` until
 * `exited` settles, the last reading kept (VmHWM only grows). NaN when it was never read.
 */
export async function peakRssUntilExit(pid: number | undefined, exited: Promise<unknown>, intervalMs = 50): Promise<number> {
  let peakMiB = Number.NaN;
  let done = false;
  void exited.finally(() => {
    done = true;
  }).catch(() => undefined);
  while (!done && pid !== undefined) {
    const bytes = await peakRssBytes(pid).catch(() => undefined);
    if (bytes !== undefined) peakMiB = bytes / 2 ** 20;
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
  return peakMiB;
}

/**
 * CPU seconds used so far by a process and all its descendants, living or exited: each living
 * process's own time plus the time of the children it has already waited for. For a
 * postmaster that is the whole cluster (backends, WAL senders, apply workers, checkpointer),
 * so the difference between two readings is what the cluster spent in between, including
 * backends that came and went.
 */
export async function processTreeCpuSeconds(rootPid: number | undefined): Promise<number> {
  if (rootPid === undefined) return Number.NaN;
  let entries: string[];
  try {
    entries = await readdir('/proc');
  } catch {
    return Number.NaN;
  }
  const stats = (await Promise.all(entries.filter((entry) => /^\d+$/.test(entry)).map((entry) => readStat(Number(entry))))).filter((stat): stat is Stat => stat !== undefined);
  const children = new Map<number, Stat[]>();
  for (const stat of stats) {
    const list = children.get(stat.ppid);
    if (list === undefined) children.set(stat.ppid, [stat]);
    else list.push(stat);
  }
  const root = stats.find((stat) => stat.pid === rootPid);
  if (root === undefined) return Number.NaN;
  let ticks = 0;
  const pending = [root];
  for (let stat = pending.pop(); stat !== undefined; stat = pending.pop()) {
    ticks += stat.own + stat.reaped;
    pending.push(...(children.get(stat.pid) ?? []));
  }
  return ticks / clockTicks();
}
