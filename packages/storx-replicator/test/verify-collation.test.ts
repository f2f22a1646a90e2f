import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rangeDigestQuery } from '@storx-backup/protocol';
import { captureRun } from '@storx-backup/service-kit';
import { main } from '../src/cli.js';
import type { VerifyReport } from '../src/verify/format-verify.js';
import { type Pair, pairFlags, type RunningReplicator, runReplicator, SCHEMA, startPair, waitForTableEqual } from './support.js';

// A text key whose collation differs between the hosts: ICU's root collation on the source
// ('_x' < 'a' < 'B'), "C" on the backup ('B' < '_x' < 'a'). The rows are the same; each
// database orders them its own way. verify compares key ranges in byte order on both sides.
const ROWS = 1200;
const WORD = `(ARRAY['a', 'B', '_x', 'Ä', 'b', 'A'])[1 + i % 6] || i`;
const BACKUP_DDL = [`CREATE SCHEMA "${SCHEMA}"`, `CREATE TABLE "${SCHEMA}".words (k text COLLATE "C", n int, v text, PRIMARY KEY (k, n))`];

let pair: Pair;
let running: RunningReplicator;
let argv: string[];

beforeAll(async () => {
  pair = await startPair({
    ddl: [
      `CREATE SCHEMA "${SCHEMA}"`,
      // The embedded PostgreSQL is built with ICU: "und-x-icu" is its root collation.
      `CREATE TABLE "${SCHEMA}".words (k text COLLATE "und-x-icu", n int, v text, PRIMARY KEY (k, n))`,
      `INSERT INTO "${SCHEMA}".words SELECT ${WORD}, i % 3, 'row ' || i FROM generate_series(1, ${ROWS}) i`,
    ],
    receiverFlags: { tables: 'words' },
  });
  for (const statement of BACKUP_DDL) await pair.backup.query(statement);
  const config = pair.config({ 'replication.tables': 'words' });
  running = runReplicator(config);
  await waitForTableEqual(pair, 'words', 't.k COLLATE "C", t.n');
  argv = pairFlags(pair, config, 'words');
});
afterAll(async () => {
  await running?.stop().catch(() => undefined);
  await pair?.close();
});

const verify = async (): Promise<{ code: number; report: VerifyReport; stderr: string }> => {
  const run = await captureRun(main, ['verify', '--json', '--range-rows', '100', ...argv], { STORX_CONFIG: '' });
  return { code: run.code, report: run.stdout === '' ? (undefined as unknown as VerifyReport) : (JSON.parse(run.stdout) as VerifyReport), stderr: run.stderr };
};

describe('verify with a text key collated differently on the two hosts', () => {
  it('orders the rows differently on each side (the premise)', async () => {
    const order = async (client: Pair['source']): Promise<string[]> => (await client.query<{ k: string }>(`SELECT k FROM "${SCHEMA}".words WHERE k IN ('a6', 'B1', '_x2') ORDER BY k`)).rows.map((row) => row.k);
    expect(await order(pair.source)).toEqual(['_x2', 'a6', 'B1']);
    expect(await order(pair.backup)).toEqual(['B1', '_x2', 'a6']);
  });

  it('reports the equal table as equal, over ranges cut in byte order', async () => {
    const { code, report, stderr } = await verify();
    expect(stderr).toBe('');
    expect(report.tables[0]).toMatchObject({ name: 'words', status: 'equal', source_rows: ROWS, backup_rows: ROWS, differences: [] });
    expect(report.tables[0]!.ranges).toBeGreaterThanOrEqual(ROWS / 100);
    expect(code).toBe(0);
  });

  it('a range still reads through the key index where the column is collated "C" already, not where it is not', async () => {
    const plan = async (client: Pair['source'], collatedKey: string[]): Promise<string> => {
      const query = rangeDigestQuery({ schema: SCHEMA, table: 'words', columns: ['k', 'n', 'v'], key: ['k', 'n'], collatedKey }, { from: ['B1', '0'], to: ['_x2', '0'] }, 100);
      await client.query('BEGIN');
      try {
        await client.query('SET LOCAL enable_seqscan = off');
        const { rows } = await client.query<{ 'QUERY PLAN': string }>(`EXPLAIN ${query.text}`, query.values);
        return rows.map((row) => row['QUERY PLAN']).join('\n');
      } finally {
        await client.query('ROLLBACK');
      }
    };
    // The bounds are an index condition of words_pkey on the backup; on the source its ICU order cannot serve byte order.
    expect(await plan(pair.backup, ['k'])).toMatch(/Index Scan on words_pkey[^]*Index Cond: \(\(ROW\(k, n\) >= ROW/);
    expect(await plan(pair.source, ['k'])).not.toMatch(/Index Cond/);
  });

  it('still finds a row changed on the backup, at its key', async () => {
    await pair.backup.query(`UPDATE "${SCHEMA}".words SET v = 'changed on the backup' WHERE k = '_x2' AND n = 2`);
    const { code, report } = await verify();
    expect(code).toBe(1);
    expect(report.tables[0]).toMatchObject({ status: 'different', fix: 'storx-replicator resync words' });
    expect(report.tables[0]!.differences.map((difference) => [difference.first_key, difference.last_key, difference.source_rows, difference.backup_rows])).toEqual([[['_x2', '2'], ['_x2', '2'], 1, 1]]);
  });
});
