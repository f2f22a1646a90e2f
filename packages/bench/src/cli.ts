import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, relative } from 'node:path';
import { parseArgs } from 'node:util';
import { runBench } from './bench.js';
import { parseBenchArgs, USAGE } from './options.js';
import { findProfiles, formatProfileSummary, readProfile, summarizeProfile } from './profile-summary.js';
import { formatReport } from './report.js';
import { missingMeasurements } from './results.js';

const PROFILES_USAGE = `Usage: scripts/bench profiles PATH... [--top N] [--callers N]

Self time per function (name, file, line) and per area (package) of every .cpuprofile under
each PATH (files or directories), as written by scripts/bench --cpu-prof; with --callers, the
functions each was called from (default 2).
`;

/**
 * `scripts/bench [options]` runs the benchmark; `scripts/bench profiles PATH...` summarizes CPU
 * profiles. Returns the exit code: 0 when every measurement was made (however slow), 1 when
 * one is missing, 2 for a bad command line.
 */
export async function main(argv: readonly string[]): Promise<number> {
  if (argv[0] === 'profiles') return profiles(argv.slice(1));
  let options;
  try {
    options = parseBenchArgs(argv);
  } catch (error) {
    process.stderr.write(`${(error as Error).message}\n\n${USAGE}`);
    return 2;
  }
  if (options === undefined) {
    process.stdout.write(USAGE);
    return 0;
  }
  const log = (line: string): void => void process.stderr.write(`${line}\n`);
  const results = await runBench(options, log);
  await mkdir(dirname(options.out), { recursive: true });
  await writeFile(options.out, `${JSON.stringify(results, null, 2)}\n`);
  process.stdout.write(`\n${formatReport(results)}\nResults: ${options.out}\n`);
  if (options.cpuProfDir !== undefined) {
    process.stdout.write(`\nCPU profiles (${options.cpuProfDir}):\n`);
    for (const file of await findProfiles(options.cpuProfDir)) {
      process.stdout.write(`\n${formatProfileSummary(relative(options.cpuProfDir, file), summarizeProfile(await readProfile(file)), 15, 1)}\n`);
    }
  }
  const missing = missingMeasurements(results);
  if (missing.length > 0) {
    process.stderr.write(`missing measurements: ${missing.join(', ')}\n`);
    return 1;
  }
  return 0;
}

async function profiles(argv: readonly string[]): Promise<number> {
  let values, positionals;
  try {
    ({ values, positionals } = parseArgs({ args: [...argv], options: { top: { type: 'string', default: '25' }, callers: { type: 'string', default: '2' }, help: { type: 'boolean', short: 'h', default: false } }, allowPositionals: true }));
  } catch (error) {
    process.stderr.write(`${(error as Error).message}\n\n${PROFILES_USAGE}`);
    return 2;
  }
  if (values.help || positionals.length === 0) {
    process.stdout.write(PROFILES_USAGE);
    return values.help ? 0 : 2;
  }
  const top = Number(values.top) || 25;
  const callers = Number(values.callers) || 0;
  for (const path of positionals) {
    for (const file of await findProfiles(path)) {
      process.stdout.write(`${formatProfileSummary(file, summarizeProfile(await readProfile(file)), top, callers)}\n\n`);
    }
  }
  return 0;
}
