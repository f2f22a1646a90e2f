import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CapturedRun, captureRun } from '@storx-backup/service-kit';
import { catalogSnapshot } from '@storx-backup/test-postgres';
import { main } from '../src/cli.js';
import type { StatusReport } from '../src/inspect/status-report.js';
import { GateProxy } from './gate-proxy.js';
import { configuredBySetup, type Pair, SCHEMA, SOURCE_DDL, startPair } from './support.js';

// A source table whose columns need what a fresh backup lacks: an extension's type, a domain
// over it with a check, a composite type; and an enum, which the receiver creates by itself.
const ACCOUNTS_DDL = [
  'CREATE EXTENSION citext WITH SCHEMA public',
  `CREATE DOMAIN "${SCHEMA}".email AS public.citext CONSTRAINT email_has_at CHECK (VALUE LIKE '%@%')`,
  `CREATE TYPE "${SCHEMA}".point3 AS (x double precision, y double precision, z double precision)`,
  `CREATE TYPE "${SCHEMA}".mood AS ENUM ('calm', 'busy')`,
  `CREATE TABLE "${SCHEMA}".accounts (id bigint PRIMARY KEY, email "${SCHEMA}".email, aliases "${SCHEMA}".email[], place "${SCHEMA}".point3, name public.citext, state "${SCHEMA}".mood)`,
];
const TABLES = 'objects,segments,accounts';

let pair: Pair;
let configPath: string;
beforeAll(async () => {
  pair = await startPair({ ddl: [...SOURCE_DDL, ...ACCOUNTS_DDL], receiverFlags: { tables: TABLES } });
  ({ configPath } = await configuredBySetup(pair, 'replicator-doctor-tables-'));
});
afterAll(async () => {
  await pair.close();
});

const doctor = (...flags: string[]): Promise<CapturedRun> => captureRun(main, ['doctor', '--config', configPath, '--replication.tables', TABLES, ...flags], {});

/** The Backuptools lines about the tables: each item with its fix lines. */
function tableItems(stdout: string): string[] {
  return stdout.split('\n').filter((line) => /^ {2}[✓✗!] the backup database can take/.test(line)).map((line) => line.trim());
}

/** The SQL statements doctor printed for the backup database (fix lines of their own). */
function backupFixStatements(stdout: string): string[] {
  return [...stdout.matchAll(/^ {6}(?:fix:| {4}) (CREATE (?:EXTENSION|SCHEMA|DOMAIN|TYPE) .*;)$/gm)].map((match) => match[1]!);
}

describe('doctor asks the receiver whether the backup can take each table', () => {
  it('reports the types the backup lacks with their CREATE statements read from the source, before run, and the backup stays unchanged', async () => {
    const before = await catalogSnapshot(pair.backup);
    const run = await doctor();
    expect(run.code, run.stdout).toBe(1);
    const items = tableItems(run.stdout);
    expect(items.filter((line) => line.startsWith('✓'))).toEqual([
      '✓ the backup database can take "satellite/0".objects (the receiver prepared it as its first batch would, and rolled it back)',
      '✓ the backup database can take "satellite/0".segments (the receiver prepared it as its first batch would, and rolled it back)',
    ]);
    const failedLine = items.find((line) => line.startsWith('✗'))!;
    expect(failedLine).toBe(
      '✗ the backup database can take "satellite/0".accounts: type "satellite/0".email (column "email") does not exist on the backup database; ' +
        'type "satellite/0".point3 (column "place") does not exist on the backup database; type public.citext (column "name") does not exist on the backup database (TABLE_INCOMPATIBLE)',
    );
    expect(failedLine).not.toContain('mood'); // the receiver creates enums itself
    expect(run.stdout).toContain('fix: on the backup database, as the source has them');
    const statements = backupFixStatements(run.stdout);
    expect(statements.map((statement) => statement.replace(/ CHECK \(.*$/, ' CHECK ...'))).toEqual([
      'CREATE EXTENSION IF NOT EXISTS citext WITH SCHEMA public;',
      'CREATE SCHEMA IF NOT EXISTS "satellite/0";',
      'CREATE DOMAIN "satellite/0".email AS public.citext CONSTRAINT email_has_at CHECK ...',
      'CREATE TYPE "satellite/0".point3 AS (x double precision, y double precision, z double precision);',
    ]);
    expect(run.stdout).toContain(`1 of ${run.stdout.match(/^ {2}[✓✗!] /gm)!.length} checks failed.`);
    // Nothing was created on the backup while answering (nor on the source: no slot).
    expect(await catalogSnapshot(pair.backup)).toEqual(before);
  });

  it('status asks the same question: the table the backup cannot take is an error with the same statements, and the backup stays unchanged', async () => {
    const before = await catalogSnapshot(pair.backup);
    const expected = backupFixStatements((await doctor()).stdout);
    const run = await captureRun(main, ['status', '--json', '--config', configPath, '--replication.tables', TABLES], {});
    const report = JSON.parse(run.stdout) as StatusReport;
    expect(run.code, run.stdout).toBe(2);
    expect(report.backup_tables.checked).toBe(true);
    expect(report.backup_tables.tables.map((table) => [table.table, table.ok])).toEqual([
      ['"satellite/0".objects', true],
      ['"satellite/0".segments', true],
      ['"satellite/0".accounts', false],
    ]);
    const accounts = report.backup_tables.tables[2]!;
    expect(accounts.problem).toMatch(/^type "satellite\/0"\.email \(column "email"\) does not exist on the backup database; .* \(TABLE_INCOMPATIBLE\)$/);
    expect(accounts.fix.slice(1)).toEqual(expected);
    const problem = report.problems.find((entry) => entry.item === 'backup_tables')!;
    expect(problem).toMatchObject({ severity: 'error', message: `the backup database cannot take "satellite/0".accounts: ${accounts.problem}` });
    expect(problem.fix).toContain('CREATE EXTENSION IF NOT EXISTS citext WITH SCHEMA public;');
    const human = await captureRun(main, ['status', '--config', configPath, '--replication.tables', TABLES], {});
    expect(human.stdout).toContain('✗ backup tables: the backup database can take 2 of 3 (the receiver prepared each as its first batch would, and rolled it back)\n    the backup database cannot take "satellite/0".accounts: type');
    expect(await catalogSnapshot(pair.backup)).toEqual(before);
  });

  it('passes once the printed statements are run on the backup', async () => {
    const first = await doctor();
    for (const statement of backupFixStatements(first.stdout)) await pair.backup.query(statement);
    const run = await doctor();
    expect(run.code, run.stdout).toBe(0);
    expect(tableItems(run.stdout)).toContain('✓ the backup database can take "satellite/0".accounts (the receiver prepared it as its first batch would, and rolled it back)');
    expect(run.stdout).toMatch(/all \d+ checks passed\./);
  });

  it('an older receiver that ignores the question gets one note to upgrade it, not a failure', async () => {
    const proxy = await GateProxy.start(`${pair.receiver.url}/webhook`);
    // What a receiver that predates table_checks answers to the same ping.
    proxy.rewrite = (body) => JSON.stringify({ ...(JSON.parse(body) as Record<string, unknown>), table_checks: undefined });
    try {
      const run = await doctor('--replication.webhook-url', proxy.url);
      expect(run.code, run.stdout).toBe(0);
      expect(tableItems(run.stdout)).toEqual([`! the backup database can take ${TABLES.split(',').join(', ')}: not checked: the receiver at ${proxy.url} predates this check`]);
      expect(run.stdout).toContain('fix: upgrade backuptools-receiver');
      expect(run.stdout).toMatch(/all \d+ checks passed, 1 with a warning \(!\)\./);
    } finally {
      await proxy.close();
    }
  });
});
