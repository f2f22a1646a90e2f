// pgbench, a client nobody here wrote, beside the pipeline: its tables are a fair sample of what
// users replicate, and pgbench_history has no key (REPLICA IDENTITY FULL) and NULLs in every
// row's filler. The backup must equal the source afterwards, table by table.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseLsn } from '@storx-backup/protocol';
import { waitFor } from '@storx-backup/test-postgres';
import { type Pair, runReplicator, SCHEMA, slotConfirmed, startPair, tableDigest, waitForTableEqual } from './support.js';

const run = promisify(execFile);
const TABLES = ['pgbench_accounts', 'pgbench_branches', 'pgbench_tellers', 'pgbench_history'];
// pgbench 15 (Debian's, from .ci/run) works against newer servers for -i and -T.
const pgbenchVersion = await run('pgbench', ['--version']).then((result) => result.stdout.trim(), () => undefined);

let pair: Pair;
beforeAll(async () => {
  if (pgbenchVersion === undefined) return;
  pair = await startPair({ ddl: [`CREATE SCHEMA "${SCHEMA}"`], receiverFlags: { tables: TABLES.map((table) => `${SCHEMA}.${table}`).join(',') } });
  // The source URL puts "satellite/0" first on the search_path: pgbench creates its tables there.
  await run('pgbench', ['-i', '-s', '1', '-q', pair.sourceUrl]);
  await pair.source.query('ALTER TABLE pgbench_history REPLICA IDENTITY FULL');
});
afterAll(async () => {
  await pair?.close();
});

describe.skipIf(pgbenchVersion === undefined)(`pgbench through the pipeline (${pgbenchVersion ?? 'pgbench not installed'})`, () => {
  it('replicates pgbench -i and a pgbench -T run; the keyless history (NULL filler, identical rows) equals the source', async () => {
    const config = pair.config({ 'replication.tables': TABLES.join(',') });
    const running = runReplicator(config);
    try {
      await waitForTableEqual(pair, 'pgbench_accounts', 'aid', 120_000);
      await run('pgbench', ['-n', '-T', '3', '-c', '2', pair.sourceUrl]);
      // A table without a key may hold identical rows; deleting one of them deletes one on the backup.
      await pair.source.query(`INSERT INTO pgbench_history (tid, bid, aid, delta, mtime) VALUES (1, 1, 1, 5, '2026-01-01'), (1, 1, 1, 5, '2026-01-01'), (1, 1, 1, 5, '2026-01-01')`);
      await pair.source.query(`DELETE FROM pgbench_history WHERE ctid = (SELECT ctid FROM pgbench_history WHERE mtime = '2026-01-01' LIMIT 1)`);
      await pair.source.query(`UPDATE pgbench_history SET delta = 6 WHERE ctid = (SELECT ctid FROM pgbench_history WHERE mtime = '2026-01-01' LIMIT 1)`);

      for (const table of TABLES) await waitForTableEqual(pair, table, 't::text', 120_000);
      const history = await tableDigest(pair.backup, 'pgbench_history', 't::text');
      expect(history.count, 'pgbench -T wrote history rows').toBeGreaterThan(3);
      const { rows } = await pair.backup.query<{ n: string }>(`SELECT count(*)::text AS n FROM "${SCHEMA}".pgbench_history WHERE filler IS NULL`);
      expect(Number(rows[0]!.n)).toBe(history.count);

      const { rows: end } = await pair.source.query<{ lsn: string }>('SELECT pg_current_wal_lsn()::text AS lsn');
      await waitFor(async () => {
        const confirmed = await slotConfirmed(pair.source, config.slotName);
        return confirmed !== null && parseLsn(confirmed) >= parseLsn(end[0]!.lsn);
      }, { description: 'slot confirmed past the pgbench run', timeoutMs: 60_000 });
    } finally {
      await running.stop();
    }
  });
});
