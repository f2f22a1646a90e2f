import { type ChildProcess, spawn } from 'node:child_process';
import { chmod, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { waitFor } from '@storx-backup/test-postgres';

// The demo as a user runs it (scripts/demo execs this entry after building; scripts/test has
// built it), with its own cluster base directory and TMPDIR so that whatever it leaves behind
// is ours to see.
const DEMO = join(import.meta.dirname, '..', 'bin', 'storx-demo.js');

interface DemoRun {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Where the run's clusters and temporary files go. */
  dirs: { clusters: string; tmp: string };
}

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function startDemo(args: string[]): Promise<DemoRun> {
  // Under /tmp, traversable: as root, PostgreSQL runs as the postgres user and must reach its data.
  const clusters = await mkdtemp('/tmp/storx-demo-test-pg-');
  const tmp = await mkdtemp('/tmp/storx-demo-test-tmp-');
  await Promise.all([chmod(clusters, 0o755), chmod(tmp, 0o755)]);
  const env = { ...process.env, STORX_TEST_PG_BASE_DIR: clusters, TMPDIR: tmp };
  const child = spawn(process.execPath, [DEMO, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  cleanups.push(async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL');
      await exited;
    }
    await Promise.all([rm(clusters, { recursive: true, force: true }), rm(tmp, { recursive: true, force: true })]);
  });
  return { child, stdout: () => stdout, stderr: () => stderr, exited, dirs: { clusters, tmp } };
}

/** Every process below `root`, with its command line: the services, the postmasters and their backends. */
async function descendants(root: number): Promise<Map<number, string>> {
  const parents = new Map<number, number>();
  const commands = new Map<number, string>();
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = await readFile(`/proc/${entry}/stat`, 'utf8');
      parents.set(Number(entry), Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]));
      commands.set(Number(entry), (await readFile(`/proc/${entry}/cmdline`, 'utf8')).replace(/\0/g, ' ').trim());
    } catch {
      // Exited meanwhile.
    }
  }
  const found = new Map<number, string>();
  const queue = [root];
  while (queue.length > 0) {
    const pid = queue.shift()!;
    for (const [child, parent] of parents) {
      if (parent === pid && !found.has(child)) {
        found.set(child, commands.get(child) ?? '');
        queue.push(child);
      }
    }
  }
  return found;
}

/** Which of `processes` still run (same pid and same command line: not a reused pid). */
async function stillRunning(processes: Map<number, string>): Promise<string[]> {
  const alive: string[] = [];
  for (const [pid, command] of processes) {
    try {
      const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
      const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
      const now = (await readFile(`/proc/${pid}/cmdline`, 'utf8')).replace(/\0/g, ' ').trim();
      if (state !== 'Z' && now === command) alive.push(`${pid} ${command}`);
    } catch {
      // Gone.
    }
  }
  return alive;
}

/** Processes whose command line names one of `paths` (initdb, postmasters, the services' --config). */
async function processesMentioning(paths: readonly string[]): Promise<string[]> {
  const found: string[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    const command = await readFile(`/proc/${entry}/cmdline`, 'utf8').then((text) => text.replace(/\0/g, ' ').trim(), () => '');
    if (paths.some((path) => command.includes(`${path}/`))) found.push(`${entry} ${command}`);
  }
  return found;
}

async function expectNothingLeft(run: DemoRun, processes: Map<number, string>): Promise<void> {
  expect(await stillRunning(processes)).toEqual([]);
  expect(await processesMentioning([run.dirs.clusters, run.dirs.tmp])).toEqual([]);
  expect(await readdir(run.dirs.clusters)).toEqual([]);
  expect(await readdir(run.dirs.tmp)).toEqual([]);
}

/** The process tree once the workload runs: both clusters and both services are up. */
async function processesDuringWorkload(run: DemoRun): Promise<Map<number, string>> {
  await waitFor(() => /^workload /m.test(run.stdout()) || run.child.exitCode !== null, { description: 'the workload to start', timeoutMs: 120_000, intervalMs: 50 });
  const processes = await descendants(run.child.pid!);
  const commands = [...processes.values()].join('\n');
  expect(commands).toMatch(/backuptools-receiver\.js serve/);
  expect(commands).toMatch(/storx-replicator\.js run/);
  expect(commands.match(/bin\/postgres -D/g)).toHaveLength(2);
  return processes;
}

describe('scripts/demo', () => {
  it('--rows 2000: the backup equals the source, with throughput and lag; then nothing is left', async () => {
    const run = await startDemo(['--rows', '2000']);
    const processes = await processesDuringWorkload(run);
    const { code } = await run.exited;
    const output = run.stdout();
    expect(code, `${output}\n${run.stderr()}`).toBe(0);
    expect(output).toMatch(/storx-replicator doctor: (\d+) of \1 checklist items ✓/);
    // Rows written before the first run arrive through the initial snapshot.
    expect(output).toMatch(/first run: slot backuptools_slot created, existing rows copied in its snapshot \(objects [1-9][\d,]*, segments [1-9][\d,]*\)/);
    expect(output).toMatch(/^ {2}✓ objects +source [\d,]+ rows, ordered \w+, multiset \w+ {2}= {2}backup [\d,]+ rows/m);
    expect(output).toMatch(/^ {2}✓ segments +source [\d,]+ rows/m);
    expect(output).toMatch(/^verification passed: the backup equals the source$/m);
    expect(output).toMatch(/^throughput +[\d,]+ rows\/s end to end/m);
    expect(output).toMatch(/^lag +caught up [\d.]+ s after the last write/m);
    expect(output).toMatch(/^status +storx-replicator status: ok, slot lag 0 B/m);
    expect(output).toMatch(/replicator exited 0, receiver exited 0/);
    // Each line's counts agree: source rows = backup rows.
    for (const match of output.matchAll(/source ([\d,]+) rows.*backup ([\d,]+) rows/g)) expect(match[1]).toBe(match[2]);
    await expectNothingLeft(run, processes);
  });

  it('Ctrl-C during the workload stops every process it started and removes every temporary file', async () => {
    const run = await startDemo(['--rows', '300000']);
    const processes = await processesDuringWorkload(run);
    run.child.kill('SIGINT');
    const { code } = await run.exited;
    expect(code, `${run.stdout()}\n${run.stderr()}`).toBe(130);
    expect(run.stderr()).toMatch(/SIGINT: stopping everything the demo started/);
    await expectNothingLeft(run, processes);
  });

  // Interruptions at the moments that are easy to get wrong: a child process half way through
  // (initdb, "keys generate", which recreates its --out directory) or a service starting.
  it.each([
    { moment: 'initdb runs', signal: 'SIGTERM', running: (command: string, dirs: DemoRun['dirs']) => command.includes('initdb') && command.includes(`${dirs.clusters}/`) },
    { moment: '"keys generate" runs', signal: 'SIGINT', running: (command: string, dirs: DemoRun['dirs']) => command.includes('keys generate') && command.includes(`${dirs.tmp}/`) },
    { moment: 'the receiver starts', signal: 'SIGTERM', running: (command: string, dirs: DemoRun['dirs']) => command.includes(' serve --config') && command.includes(`${dirs.tmp}/`) },
  ] as const)('$signal while $moment leaves nothing either', async ({ signal, running }) => {
    const run = await startDemo(['--rows', '2000']);
    await waitFor(async () => (await processesMentioning([run.dirs.clusters, run.dirs.tmp])).some((line) => running(line, run.dirs)) || run.child.exitCode !== null, {
      description: 'the moment to interrupt',
      timeoutMs: 60_000,
      intervalMs: 5,
    });
    const early = await descendants(run.child.pid!);
    run.child.kill(signal);
    const { code } = await run.exited;
    expect(code, `${run.stdout()}\n${run.stderr()}`).toBe(signal === 'SIGINT' ? 130 : 143);
    await expectNothingLeft(run, early);
  });
});
