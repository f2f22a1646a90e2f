// The seed's step 1 beyond wal_level: max_wal_senders and max_replication_slots. A real server
// started with no WAL sender and a single slot: doctor passed 15/15 here and run failed with a
// bare PostgreSQL error. Now doctor marks each ✗ with the seed's ALTER SYSTEM line, run stops
// with the same fix before creating anything, and a slot taken by someone else is seen too.
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type pg from 'pg';
import { generateEd25519KeyPair, generateRsaKeyPair, writeKeyPair } from '@storx-backup/protocol';
import { captureRun } from '@storx-backup/service-kit';
import { connect, type PgCluster, startCluster } from '@storx-backup/test-postgres';
import { main } from '../src/cli.js';
import { SOURCE_DDL, withSearchPath } from './support.js';

let cluster: PgCluster;
let client: pg.Client;
let flags: string[];
beforeAll(async () => {
  cluster = await startCluster({ name: 'capacity', backend: 'embedded', settings: { max_wal_senders: '0', max_replication_slots: '1' } });
  const url = withSearchPath(await cluster.createDatabase('capacity'));
  client = await connect(url);
  for (const statement of SOURCE_DDL) await client.query(statement);
  const dir = await mkdtemp(join(tmpdir(), 'capacity-'));
  const receiver = await writeKeyPair(dir, 'backuptools', generateRsaKeyPair(2048));
  const signing = await writeKeyPair(dir, 'storx_signing', generateEd25519KeyPair());
  flags = ['--database', url, '--replication.webhook-url', 'http://127.0.0.1:1/webhook', '--replication.webhook-public-key', receiver.publicKeyPath, '--replication.signing-key', signing.privateKeyPath];
});
afterAll(async () => {
  await client?.end();
  await cluster?.stop();
});

const cli = (command: string): ReturnType<typeof captureRun> => captureRun(main, [command, ...flags], { STORX_CONFIG: '' });

function item(stdout: string, setting: string): string {
  return stdout.split('\n').find((line) => line.includes(`${setting} leaves room`))!.trim();
}

async function slots(): Promise<string[]> {
  const { rows } = await client.query<{ slot_name: string }>('SELECT slot_name FROM pg_replication_slots ORDER BY 1');
  return rows.map((row) => row.slot_name);
}

describe('max_wal_senders and max_replication_slots', () => {
  it('max_wal_senders = 0: doctor ✗ with the seed\'s fix, run stops with the same fix and creates no slot', async () => {
    const doctor = await cli('doctor');
    expect(doctor.code).toBe(1);
    expect(item(doctor.stdout, 'max_wal_senders')).toBe('✗ max_wal_senders leaves room for the replicator: max_wal_senders is 0: the server allows no replication connection, and the replicator streams the slot over one');
    expect(doctor.stdout).toContain('fix: ALTER SYSTEM SET max_wal_senders = 10;\n           -- Restart PostgreSQL\n');
    expect(item(doctor.stdout, 'max_replication_slots')).toBe('✓ max_replication_slots leaves room for the replicator (1, 0 replication slots in use)');

    const run = await cli('run');
    expect(run.code).toBe(1);
    expect(run.stderr).toBe('error: max_wal_senders is 0: the server allows no replication connection, and the replicator streams the slot over one\nfix: ALTER SYSTEM SET max_wal_senders = 10;\n     -- Restart PostgreSQL\n');
    expect(await slots()).toEqual([]);
  });

  it('every slot taken by another consumer: doctor ✗ naming the setting, and ✓ again once one is free', async () => {
    await client.query("SELECT pg_create_physical_replication_slot('someone_else')");
    try {
      const doctor = await cli('doctor');
      expect(item(doctor.stdout, 'max_replication_slots')).toBe('✗ max_replication_slots leaves room for the replicator: the only replication slot is in use (max_replication_slots = 1): slot backuptools_slot cannot be created');
      expect(doctor.stdout).toContain('fix: ALTER SYSTEM SET max_replication_slots = 10;\n');
      expect(doctor.code).toBe(1);
    } finally {
      await client.query("SELECT pg_drop_replication_slot('someone_else')");
    }
    expect(item((await cli('doctor')).stdout, 'max_replication_slots')).toMatch(/^✓ /);
    expect(await slots()).toEqual([]);
  });
});
