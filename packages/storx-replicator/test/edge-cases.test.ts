// Edge cases found in review, each once a silent loss or a stall: rows sharing one WAL record
// (COPY) across chunks, an empty transaction followed by batches in the same tick, a table
// altered between two transactions of one batch, a table dropped and created again between
// (or within) the transactions of one batch, and labels added to an enum the tables use.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '@storx-backup/test-postgres';
import { type Pair, type RunningReplicator, runReplicator, slotConfirmed, SOURCE_DDL, startPair, tableDigest, waitForTableEqual } from './support.js';

let pair: Pair;
let running: RunningReplicator;
beforeAll(async () => {
  const extra = ['reshaped', 'reshaped_once', 'labelled'];
  const ddl = [
    ...SOURCE_DDL,
    ...['reshaped', 'reshaped_once'].map((table) => `CREATE TABLE "satellite/0".${table} (id int PRIMARY KEY, a text)`),
    `CREATE TYPE "satellite/0".mood AS ENUM ('b', 'd')`,
    'CREATE TABLE "satellite/0".labelled (id int PRIMARY KEY, m "satellite/0".mood, ms "satellite/0".mood[])',
  ];
  pair = await startPair({ ddl, receiverFlags: { tables: ['objects', 'segments', ...extra].join(',') } });
  const config = pair.config({ 'replication.source-id': 'edges', 'replication.tables': ['objects', 'segments', ...extra].join(','), 'replication.max-batch-bytes': '64KiB', 'replication.max-batch-events': '10', 'replication.batch-linger': '200ms' });
  running = runReplicator(config);
  await waitFor(async () => (await slotConfirmed(pair.source, config.slotName)) !== null, { description: 'slot created', timeoutMs: 30_000 });
});
afterAll(async () => {
  await running.stop();
  await pair.close();
});

describe('edge cases', () => {
  it('keeps every row of a COPY (many rows per WAL record, one LSN) across chunk boundaries', async () => {
    // COPY writes many rows per WAL record, so they share one LSN. (FROM PROGRAM runs on the
    // database server, which is this machine in the tests.)
    await pair.source.query(`COPY segments (stream_id, position, plain_size, note) FROM PROGRAM 'seq 0 4999 | awk ''{printf "0b5d3c1e-6f7a-4d2b-9c8e-%012d\\t%d\\t%d\\tnote %d\\n", $1, $1, $1, $1}'''`);
    expect((await tableDigest(pair.source, 'segments', 'stream_id, position')).count).toBe(5000);
    await waitForTableEqual(pair, 'segments', 'stream_id, position');
  });

  it('delivers batches queued right after a transaction with nothing to send', async () => {
    await pair.source.query("BEGIN; SELECT pg_logical_emit_message(true, 'edge', 'x'); COMMIT");
    await pair.source.query(`INSERT INTO objects (project_id, bucket_name, object_key, version) SELECT gen_random_uuid(), 'edge', int8send(g), 1 FROM generate_series(1, 20) g`);
    await waitForTableEqual(pair, 'objects', 'object_key', 10_000);
  });

  it('replicates a table altered between two transactions of one batch', async () => {
    await pair.source.query(`INSERT INTO objects (project_id, bucket_name, object_key, version) VALUES (gen_random_uuid(), 'ddl', 'before', 1)`);
    await pair.source.query('ALTER TABLE objects ADD COLUMN added_later text');
    await pair.source.query(`INSERT INTO objects (project_id, bucket_name, object_key, version, added_later) VALUES (gen_random_uuid(), 'ddl', 'after', 1, 'new column')`);
    await pair.source.query('ALTER TABLE objects DROP COLUMN expires_at');
    await pair.source.query(`INSERT INTO objects (project_id, bucket_name, object_key, version, added_later) VALUES (gen_random_uuid(), 'ddl', 'dropped', 1, 'x')`);
    // The backup keeps the dropped column (nothing is dropped on a backup): compare the source's columns.
    const columns = 'project_id, bucket_name, object_key, version, status, created_at, encrypted_metadata, total_plain_size, total_encrypted_size, added_later';
    const digest = async (client: typeof pair.source) =>
      (await client.query<{ hash: string }>(`SELECT md5(string_agg(row(${columns})::text, E'\\n' ORDER BY object_key)) AS hash FROM "satellite/0".objects`)).rows[0]!.hash;
    const expected = await digest(pair.source);
    await waitFor(async () => (await digest(pair.backup).catch(() => undefined)) === expected, { description: 'backup equal after ALTER TABLE', timeoutMs: 20_000 });
    expect(running.replicator.healthy).toBe(true);
  });

  // DDL is not replicated, so the rows the DROP removes on the source stay on the backup: each
  // case deletes its row first. What it proves: two shapes of one table name never travel as two
  // descriptions in one batch (the receiver refuses that with PAYLOAD_INVALID, blocking).
  it.each([
    ['in consecutive transactions of one batch', 'reshaped', false],
    ['within one transaction', 'reshaped_once', true],
  ])('replicates a table dropped and created again with other columns %s', async (_how, table, together) => {
    const statements = [
      `INSERT INTO ${table} (id, a) VALUES (1, 'old shape')`,
      `DELETE FROM ${table} WHERE id = 1`,
      `DROP TABLE ${table}`,
      // Dropping a table takes it out of a FOR TABLE publication: put it back, as an operator would.
      `CREATE TABLE ${table} (id int PRIMARY KEY, b bigint, c text); ALTER PUBLICATION backuptools_pub ADD TABLE ${table}`,
      `INSERT INTO ${table} (id, b, c) VALUES (2, 20, 'new shape')`,
    ];
    if (together) await pair.source.query(`BEGIN; ${statements.join('; ')}; COMMIT`);
    else for (const statement of statements) await pair.source.query(statement);
    const rows = (client: typeof pair.source) => client.query<{ row: string }>(`SELECT row(id, b, c)::text AS row FROM "satellite/0".${table} ORDER BY id`).then((result) => result.rows.map((row) => row.row), () => undefined);
    expect(await rows(pair.source)).toEqual(['(2,20,"new shape")']);
    await waitFor(async () => JSON.stringify(await rows(pair.backup)) === JSON.stringify(await rows(pair.source)), { description: `backup ${table} equal after DROP and CREATE`, timeoutMs: 20_000 });
    const { rows: [all] } = await pair.backup.query<{ n: number }>(`SELECT count(*)::int AS n FROM "satellite/0".${table}`);
    expect(all!.n).toBe(1);
    expect(running.replicator.healthy).toBe(true);
  });

  it('replicates values of labels added to an enum on the source (ALTER TYPE ... ADD VALUE before, between and after the others)', async () => {
    const rows = (client: typeof pair.source) => client.query<{ row: string }>(`SELECT row(id, m, ms)::text AS row FROM "satellite/0".labelled ORDER BY m, id`).then((result) => result.rows.map((row) => row.row), () => undefined);
    const labels = async (client: typeof pair.source) => (await client.query<{ labels: string }>(`SELECT enum_range(NULL::"satellite/0".mood)::text AS labels`)).rows[0]!.labels;
    const equal = (what: string) => waitFor(async () => JSON.stringify(await rows(pair.backup)) === JSON.stringify(await rows(pair.source)), { description: what, timeoutMs: 20_000 });
    await pair.source.query(`INSERT INTO labelled VALUES (1, 'd', '{b,d}')`);
    await equal('the first row'); // the metadata with labels (b, d) is now cached by the replicator
    await pair.source.query(`ALTER TYPE mood ADD VALUE 'c' BEFORE 'd'`);
    await pair.source.query(`ALTER TYPE mood ADD VALUE 'a' BEFORE 'b'`);
    await pair.source.query(`ALTER TYPE mood ADD VALUE 'e f' AFTER 'd'`);
    await pair.source.query(`INSERT INTO labelled VALUES (2, 'c', '{a,"e f",NULL}'), (3, 'e f', NULL), (4, 'b', '{{b,d},{d,b}}')`);
    await pair.source.query(`UPDATE labelled SET m = 'a' WHERE id = 1`);
    await equal('rows with the new labels'); // ordered by m: the labels' order agrees too
    expect(await labels(pair.backup)).toBe('{a,b,c,d,"e f"}');
    expect(await labels(pair.source)).toBe('{a,b,c,d,"e f"}');
    expect(running.replicator.healthy).toBe(true);
  });
});
