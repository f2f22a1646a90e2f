// Issue 6: a backup started from a source that already holds data. The first run copies the
// existing rows as of the new slot's exported snapshot while writers keep writing; the
// replicator is killed in the middle of the copy and the next run redoes the unfinished table
// from a fresh snapshot; `resync` later replaces a backup table that diverged. Each time the
// backup ends equal to the source.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectBackupEqualsSource } from '../src/invariant.js';
import { connect, SERVICE_BINARIES as BINARIES, waitFor } from '@storx-backup/test-postgres';
import { System } from '../src/system.js';
import { runWorkload } from '../src/workload.js';

const run = promisify(execFile);
const OBJECTS = Number(process.env['STORX_E2E_SNAPSHOT_ROWS'] ?? 200_000);

let system: System;
beforeAll(async () => {
  system = await System.start({ servicesStopped: true, replication: { 'max-batch-bytes': '256KiB', 'copy-chunk-bytes': '256KiB' } });
  await system.source.query(
    `INSERT INTO objects (project_id, bucket_name, object_key, version, encrypted_metadata, total_plain_size)
     SELECT '2c6e1c5e-77b4-4a5c-9d7e-0c1f3b2a4d5e', 'existing', int8send(g), 1, decode(repeat(md5(g::text), 4), 'hex'), g FROM generate_series(1, $1::integer) g`,
    [OBJECTS],
  );
  await system.source.query(`INSERT INTO segments (stream_id, position, plain_size) SELECT gen_random_uuid(), g, g FROM generate_series(1, 20000) g`);
  await system.source.query(`INSERT INTO toasty (id, big) SELECT g, repeat(md5(g::text), 4000) FROM generate_series(100, 120) g`);
  await system.receiver.start(/receiver listening/);
});
afterAll(async () => {
  await system?.stop();
});

async function backupCopies(): Promise<Record<string, { rows: number; done: boolean; image: string }>> {
  const backup = await connect(system.backupUrl);
  try {
    const { rows } = await backup.query<{ table_name: string; rows_copied: string; done: boolean; image_lsn: string }>('SELECT table_name, rows_copied::text, done, image_lsn::text FROM backuptools_state.table_copies');
    return Object.fromEntries(rows.map((row) => [row.table_name, { rows: Number(row.rows_copied), done: row.done, image: row.image_lsn }]));
  } finally {
    await backup.end();
  }
}

describe('initial snapshot', () => {
  it('copies populated tables under concurrent writes, redoes a copy killed midway, then streams with no gap', async () => {
    const stopWriters = new AbortController();
    const writers = runWorkload(system.sourceUrl, { writers: 2, transactions: 2_000, pauseMs: 10, signal: stopWriters.signal });
    try {
      await system.replicator.start(/copying/);
      const midway = await waitFor(async () => {
        const copy = (await backupCopies())['objects'];
        return copy !== undefined && copy.rows >= 10_000 && !copy.done ? copy : undefined;
      }, { description: 'the copy of objects to be under way', timeoutMs: 120_000, intervalMs: 50 });
      await system.replicator.kill();
      expect((await backupCopies())['objects']!.done, 'killed in the middle of the copy').toBe(false);

      await system.replicator.start(/replication stream started/, 10 * 60_000);
      const copies = await backupCopies();
      expect(Object.values(copies).every((copy) => copy.done)).toBe(true);
      expect(copies['objects']!.image, 'the unfinished table was copied again from a fresh snapshot').not.toBe(midway.image);
    } finally {
      stopWriters.abort();
    }
    expect(await writers).toBeGreaterThan(0);
    const digests = await expectBackupEqualsSource(system, 600_000);
    expect(digests.objects.count).toBeGreaterThan(OBJECTS);
  }, 20 * 60_000);

  it('refuses a resync while the service holds the slot, saying what to do', async () => {
    const failed = await run(process.execPath, [BINARIES.replicator, 'resync', 'segments', '--config', system.replicatorConfigPath]).catch((error: { code: number; stderr: string }) => error);
    expect(failed).toMatchObject({ code: 1, stderr: expect.stringContaining('stop the replicator service first') as string });
  });

  it('resync replaces a backup table that diverged, with writers running, and streaming resumes with no gap', async () => {
    const backup = await connect(system.backupUrl);
    await backup.query('DELETE FROM "satellite/0".segments WHERE position % 7 = 0');
    await backup.query('UPDATE "satellite/0".segments SET plain_size = -1 WHERE position = 10');
    await backup.end();
    await system.replicator.stop();

    const stopWriters = new AbortController();
    const writers = runWorkload(system.sourceUrl, { writers: 2, transactions: 2_000, pauseMs: 10, signal: stopWriters.signal });
    try {
      const { stdout } = await run(process.execPath, [BINARIES.replicator, 'resync', 'segments', '--config', system.replicatorConfigPath]);
      expect(stdout).toContain('copied segments');
      await system.replicator.start(/replication stream started/);
    } finally {
      stopWriters.abort();
    }
    await writers;
    await expectBackupEqualsSource(system);
  }, 10 * 60_000);
});
