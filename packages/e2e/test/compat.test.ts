// Every supported PostgreSQL major other than the default (which every other test runs on):
// one compact scenario per major through the real command lines, on a source and a backup of
// that major. An initial snapshot of existing rows (a TOAST value among them), the type matrix
// inserted and updated, a TOAST value kept through an update of another column, a TRUNCATE,
// the replicator and then the receiver SIGKILLed once mid-stream; afterwards every table is
// equal on both sides.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PG_DEFAULT_MAJOR, PG_SUPPORTED_MAJORS, TYPE_MATRIX_ROWS } from '@storx-backup/test-postgres';
import { expectBackupEqualsSource } from '../src/invariant.js';
import { System } from '../src/system.js';
import { runWorkload } from '../src/workload.js';

const MAJORS = PG_SUPPORTED_MAJORS.filter((major) => major !== PG_DEFAULT_MAJOR);

describe.each(MAJORS)('PostgreSQL %i', (version) => {
  let system: System;
  beforeAll(async () => {
    system = await System.start({ version, servicesStopped: true, replication: { 'max-batch-bytes': '64KiB', 'copy-chunk-bytes': '64KiB' } });
  });
  afterAll(async () => {
    await system?.stop();
  });

  it('copies, streams, survives a crash of each service and ends equal', async () => {
    const { rows } = await system.source.query<{ major: number }>("SELECT current_setting('server_version_num')::int / 10000 AS major");
    expect(rows[0]!.major).toBe(version);
    // Existing rows: the first run copies them (the initial snapshot).
    await system.source.query(
      `INSERT INTO objects (project_id, bucket_name, object_key, version, encrypted_metadata, total_plain_size)
       SELECT '2c6e1c5e-77b4-4a5c-9d7e-0c1f3b2a4d5e', 'existing', int8send(g), 1, decode(md5(g::text), 'hex'), g FROM generate_series(1, 2000) g`,
    );
    await system.source.query("INSERT INTO toasty (id, big) VALUES (1000, (SELECT string_agg(md5(g::text), '') FROM generate_series(1, 3200) g))");
    await system.receiver.start(/receiver listening/);
    await system.replicator.start(/replication stream started/);

    await system.source.query(`INSERT INTO types_matrix VALUES ${TYPE_MATRIX_ROWS.join(',\n')}`);
    await system.source.query(`UPDATE types_matrix SET id = id + 10 WHERE id = 2`);
    await system.source.query('UPDATE toasty SET counter = counter + 1 WHERE id = 1000'); // big stays unchanged (TOAST)

    const workload = runWorkload(system.sourceUrl, { writers: 2, transactions: 100, pauseMs: 10 });
    await system.replicator.kill();
    await system.replicator.start(/replication stream started/);
    await system.source.query('TRUNCATE segments');
    await system.receiver.kill();
    await system.receiver.start(/receiver listening/);
    expect(await workload).toBe(200);

    const digests = await expectBackupEqualsSource(system);
    expect(digests.objects.count).toBeGreaterThan(2000);
    expect(digests.types_matrix.count).toBe(TYPE_MATRIX_ROWS.length);
    expect(digests.toasty.count).toBeGreaterThan(0);
  }, 10 * 60_000);
});
