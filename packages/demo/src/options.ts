import { parseArgs } from 'node:util';

/** Row changes the default run writes: large enough to show throughput, short enough to watch. */
export const DEFAULT_ROWS = 50_000;

export interface DemoOptions {
  /** Row changes (inserts, updates and deletes over both tables) the workload writes. */
  rows: number;
  /** Leave everything running after the verification, until Ctrl-C. */
  keep: boolean;
}

export const USAGE = `Usage: scripts/demo [--rows N] [--keep]

The whole pipeline on this machine: two embedded PostgreSQL 17 clusters (source and backup),
keys from the real "keys generate" commands, the receiver ("backuptools-receiver serve") and the
replicator ("storx-replicator run") as child processes with generated config files. Rows written
before the replicator starts arrive through its initial snapshot; then a Storj-like workload on
"satellite/0".objects and segments (inserts, updates, deletes) is streamed. At the end, the proof
that the backup equals the source: per table, row count, ordered hash and multiset hash.

  --rows N   row changes the workload writes (default ${DEFAULT_ROWS.toLocaleString('en-US')}); a fifth of that,
             at most 10,000, is written before the replicator starts
  --keep     leave everything running afterwards and print how to connect, query status and
             read /metrics; Ctrl-C stops it
  -h, --help show this help

Exit status: 0 when the backup equals the source, 1 when it does not or something failed,
130 after Ctrl-C (everything started is stopped and every temporary file removed first).
`;

export type ParsedCommandLine = { kind: 'run'; options: DemoOptions } | { kind: 'help' } | { kind: 'error'; message: string };

export function parseDemoCommandLine(argv: readonly string[]): ParsedCommandLine {
  let values: { rows?: string | undefined; keep?: boolean | undefined; help?: boolean | undefined };
  try {
    ({ values } = parseArgs({
      args: [...argv],
      options: { rows: { type: 'string' }, keep: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } },
      strict: true,
      allowPositionals: false,
    }));
  } catch (error) {
    return { kind: 'error', message: (error as Error).message };
  }
  if (values.help === true) return { kind: 'help' };
  let rows = DEFAULT_ROWS;
  if (values.rows !== undefined) {
    // Underscores and commas as thousands separators: "--rows 1_000_000" reads as meant.
    const text = values.rows.replace(/[_,]/g, '');
    rows = /^\d+$/.test(text) ? Number(text) : Number.NaN;
    if (!Number.isSafeInteger(rows) || rows < 100) return { kind: 'error', message: `--rows must be a whole number of at least 100; got "${values.rows}"` };
  }
  return { kind: 'run', options: { rows, keep: values.keep === true } };
}
