import { execFile } from 'node:child_process';
import { access, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import { formatOptionsMarkdown } from '@storx-backup/service-kit';
import { RECEIVER_ERRORS, RECEIVER_OPTIONS } from '@storx-backup/backuptools-receiver';
import { REPLICATOR_ERRORS, REPLICATOR_OPTIONS } from '@storx-backup/storx-replicator';
import { USAGE } from '../src/options.js';

// The README is an operator's reference: every option, command, flag, metric and error code it
// names must be the real one. Checked against the code and the built command lines' --help.

const ROOT = join(import.meta.dirname, '..', '..', '..');
const PACKAGES = join(ROOT, 'packages');
const run = promisify(execFile);

/** Flags of other tools the README shows (pnpm, URLs, PostgreSQL's options parameter). */
const OTHER_TOOLS_FLAGS = new Set(['--frozen-lockfile', '--search_path', '--project', '--help']);

let readme: string;
beforeAll(async () => {
  readme = await readFile(join(ROOT, 'README.md'), 'utf8');
});

function section(title: string): string {
  const start = readme.indexOf(`\n## ${title}\n`);
  expect(start, `README section "${title}"`).toBeGreaterThan(0);
  const end = readme.indexOf('\n## ', start + 1);
  return readme.slice(start, end === -1 ? undefined : end);
}

function markedTable(name: string): string | undefined {
  return new RegExp(`<!-- ${name}:start -->\\n([\\s\\S]*?)\\n<!-- ${name}:end -->`).exec(readme)?.[1];
}

async function help(binary: string, args: string[]): Promise<string> {
  const { stdout } = await run(process.execPath, [join(PACKAGES, binary, 'bin', `${binary}.js`), ...args, '--help']);
  return stdout;
}

describe('README.md', () => {
  it('holds the configuration tables generated from the option lists (as docs/configuration.md does)', () => {
    expect(markedTable('replicator-options')).toBe(formatOptionsMarkdown(REPLICATOR_OPTIONS, 'STORX_'));
    expect(markedTable('receiver-options')).toBe(formatOptionsMarkdown(RECEIVER_OPTIONS, 'BACKUPTOOLS_'));
  });

  it('gives a fix for every error code of both services', () => {
    const troubleshooting = section('Troubleshooting');
    for (const code of [...Object.keys(REPLICATOR_ERRORS), ...Object.keys(RECEIVER_ERRORS)]) {
      expect(troubleshooting, code).toMatch(new RegExp(`\`${code}\`[^\\n]*\\|[^\\n]*\\w`));
    }
  });

  it('lists every metric the services define, and names no other', async () => {
    const defined = new Set<string>();
    for (const file of ['storx-replicator/src/metrics.ts', 'backuptools-receiver/src/metrics.ts']) {
      for (const match of (await readFile(join(PACKAGES, file), 'utf8')).matchAll(/name: '(\w+)'/g)) defined.add(match[1]!);
    }
    expect(defined.size).toBeGreaterThan(10);
    const monitoring = section('Monitoring');
    for (const metric of defined) expect(monitoring, metric).toContain(`\`${metric}`);
    const named = new Set([...readme.matchAll(/\b(storx_replicator_\w+|backuptools_(?!state\b|slot\b|pub\b|private\b|public\b|2026\b)\w+)/g)].map((match) => match[1]!));
    for (const metric of named) expect(defined, `README names ${metric}`).toContain(metric.replace(/_(bucket|sum|count)$/, ''));
  });

  it('names only commands that exist, and only their flags', async () => {
    const replicatorCommands = ['run', 'setup', 'status', 'topology', 'doctor', 'snapshot', 'resync', 'verify', 'keys generate'];
    const receiverCommands = ['serve', 'status', 'migrate', 'keys generate'];
    const helps = await Promise.all([
      ...replicatorCommands.map((command) => help('storx-replicator', command.split(' '))),
      ...receiverCommands.map((command) => help('backuptools-receiver', command.split(' '))),
      run(process.execPath, [join(PACKAGES, 'bench', 'bin', 'bench.js'), '--help']).then(({ stdout }) => stdout), // scripts/bench
      run(join(ROOT, 'scripts', 'install'), ['--help']).then(({ stdout }) => stdout),
    ]);
    const known = new Set([...replicatorCommands.map((c) => `storx-replicator ${c}`), ...receiverCommands.map((c) => `backuptools-receiver ${c}`)]);
    for (const match of readme.matchAll(/`((?:storx-replicator|backuptools-receiver) [a-z]+(?: generate)?)/g)) {
      const command = match[1]!;
      expect(known.has(command), `README names ${command}`).toBe(true);
    }
    const flags = new Set([...[...helps, USAGE].join('\n').matchAll(/--[a-z][\w.-]*/g)].map((match) => match[0]));
    for (const match of readme.matchAll(/(?<![\w-])--[a-z][\w.-]*[\w]/g)) {
      const flag = match[0];
      expect(flags.has(flag) || OTHER_TOOLS_FLAGS.has(flag), `README names ${flag}`).toBe(true);
    }
  });

  it('links only to headings and files that exist', async () => {
    // GitHub's anchors: lower case, punctuation dropped, spaces to hyphens.
    const anchors = new Set([...readme.matchAll(/^#{2,3} (.+)$/gm)].map((match) => match[1]!.toLowerCase().replace(/[^\w\- ]/g, '').replace(/ /g, '-')));
    for (const match of readme.matchAll(/\]\(#([^)]+)\)/g)) expect(anchors, `#${match[1]}`).toContain(match[1]);
    const missing: string[] = [];
    for (const match of readme.matchAll(/\]\(((?!https?:|#)[^)#]+)(?:#[^)]*)?\)/g)) {
      await access(join(ROOT, match[1]!)).catch(() => missing.push(match[1]!));
    }
    expect(missing).toEqual([]);
  });
});
