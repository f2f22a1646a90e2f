// Every command of both command lines, table-driven: its --help is complete and reads right,
// and each mistake gets one clear line and exit status 2 (docs/cli.md's exit-status table).
import { describe, expect, it } from 'vitest';
import { main as receiverMain } from '@storx-backup/backuptools-receiver';
import { type CapturedRun, captureRun } from '@storx-backup/service-kit';
import { main as replicatorMain } from '../src/cli.js';

type Main = Parameters<typeof captureRun>[0];

const PROGRAMS: { name: string; main: Main; commands: { argv: string[]; flags: string[] }[] }[] = [
  {
    name: 'storx-replicator',
    main: replicatorMain,
    commands: [
      { argv: ['run'], flags: ['--config', '--database', '--replication.metrics-listen'] },
      { argv: ['setup'], flags: ['--config', '--force', '--database'] },
      { argv: ['status'], flags: ['--config', '--json', '--max-lag-bytes', '--database'] },
      { argv: ['topology'], flags: ['--config', '--json', '--postgres', '--redis'] },
      { argv: ['doctor'], flags: ['--config', '--database'] },
      { argv: ['snapshot'], flags: ['--config', '--tables', '--database'] },
      { argv: ['resync'], flags: ['--config', '--database', '--replication.tables'] },
      { argv: ['verify'], flags: ['--config', '--tables', '--json', '--range-rows', '--rechecks', '--catch-up-timeout', '--database'] },
      { argv: ['keys', 'generate'], flags: ['--out', '--name'] },
    ],
  },
  {
    name: 'backuptools-receiver',
    main: receiverMain,
    commands: [
      { argv: ['serve'], flags: ['--config', '--database-url', '--listen-port'] },
      { argv: ['status'], flags: ['--config', '--json', '--max-age', '--database-url'] },
      { argv: ['migrate'], flags: ['--config', '--database-url', '--state-schema'] },
      { argv: ['keys', 'generate'], flags: ['--out', '--bits', '--name'] },
    ],
  },
];

const run = (main: Main, argv: string[]): Promise<CapturedRun> => captureRun(main, argv, { STORX_CONFIG: '', BACKUPTOOLS_CONFIG: '' });

describe.each(PROGRAMS)('$name', ({ name, main, commands }) => {
  it.each(commands)('$argv --help: exit 0, its own usage, every flag it takes, no garbled default', async ({ argv, flags }) => {
    const help = await run(main, [...argv, '--help']);
    expect(help.code).toBe(0);
    expect(help.stderr).toBe('');
    expect(help.stdout).toMatch(new RegExp(`^Usage: ${name} ${argv.join(' ')}`));
    for (const flag of flags) expect(help.stdout, flag).toMatch(new RegExp(`^ {2}(-\\w, )?${flag.replace('.', '\\.')}( |$)`, 'm'));
    // "(default ; env X)", "(default: the same name) (default: none; env X)": the defaults once, readable.
    expect(help.stdout).not.toMatch(/\(default ;|\(default \)|\(default[^)]*\) \(default/);
    expect(help.stdout).not.toMatch(/\b1 (batches|rows|tables|checks)\b|\ba (rsa|RSA|Ed25519|ed25519)\b/);
  });

  it.each(commands)('$argv with an unknown flag: one line, exit 2, pointing at --help', async ({ argv }) => {
    const refused = await run(main, [...argv, '--bogus']);
    expect(refused.code).toBe(2);
    expect(refused.stdout).toBe('');
    expect(refused.stderr).toBe(`error: unknown flag --bogus. Run "${name} ${argv.join(' ')} --help" for the options.\n`);
  });

  it('an unknown command, "keys" alone and "keys --help": one line each, or the sub-commands', async () => {
    const unknown = await run(main, ['bogus']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr.split('\n')).toHaveLength(2);
    expect(unknown.stderr).toMatch(new RegExp(`^unknown command "bogus": ${name} has .*keys generate.* \\(see "${name} --help"\\)\\n$`));

    const keysHelp = await run(main, ['keys', '--help']);
    expect(keysHelp.code).toBe(0);
    expect(keysHelp.stdout).toMatch(new RegExp(`^Usage: ${name} keys <sub-command> \\[options\\]\\n\\n {2}keys generate {2}`));
    const keys = await run(main, ['keys']);
    expect(keys.code).toBe(2);
    expect(keys.stderr).toBe(keysHelp.stdout);
    const wrongSub = await run(main, ['keys', 'make']);
    expect(wrongSub.stderr).toMatch(/^unknown command "keys make": /);
  });

  it('a flag without its value: one line, exit 2', async () => {
    const refused = await run(main, ['status', '--config']);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toBe(`error: --config needs a value. Run "${name} status --help" for the options.\n`);
    const json = await run(main, ['status', '--json=yes']);
    expect(json.stderr).toBe(`error: --json takes no value. Run "${name} status --help" for the options.\n`);
  });
});

describe('storx-replicator resync', () => {
  it('without a table: one line, exit 2', async () => {
    const refused = await run(replicatorMain, ['resync']);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toBe('error: resync takes exactly one table name (got none): storx-replicator resync TABLE [options]; "storx-replicator resync --help" explains it\n');
  });
});

describe('storx-replicator verify', () => {
  const configured = ['--database', 'postgres://u@127.0.0.1:1/db', '--replication.webhook-url', 'http://127.0.0.1:1/webhook', '--replication.webhook-public-key', '/nonexistent/r.pem', '--replication.signing-key', '/nonexistent/s.pem'];

  it.each([
    [['--range-rows', '0'], 'error: --range-rows: "0" is not a whole number from 1 to 1000000'],
    [['--rechecks', 'x'], 'error: --rechecks: "x" is not a whole number from 0 to 100'],
    [[...configured, '--tables', 'objects,nope'], 'error: --tables: not in replication.tables: nope (configured: objects, segments)'],
    [[...configured, 'objects'], 'error: verify takes no table names as arguments: use --tables objects'],
  ])('%j: one line, exit 2', async (argv, message) => {
    const refused = await run(replicatorMain, ['verify', ...argv]);
    expect(refused.code).toBe(2);
    expect(refused.stdout).toBe('');
    expect(refused.stderr.split('\n')[0]).toBe(message);
  });
});
