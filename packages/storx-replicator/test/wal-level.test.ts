// A source without wal_level = logical: run refuses to start with the seed's message and fix,
// and doctor marks the item ✗ with the same fix. A real server started with wal_level=replica.
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateEd25519KeyPair, generateRsaKeyPair, writeKeyPair } from '@storx-backup/protocol';
import { captureRun } from '@storx-backup/service-kit';
import { type PgCluster, startCluster } from '@storx-backup/test-postgres';
import { main } from '../src/cli.js';
import { SOURCE_DDL, withSearchPath } from './support.js';

let cluster: PgCluster;
let flags: string[];
beforeAll(async () => {
  cluster = await startCluster({ name: 'replica-wal', backend: 'embedded', settings: { wal_level: 'replica' } });
  const url = withSearchPath(await cluster.createDatabase('walcheck'));
  const { connect } = await import('@storx-backup/test-postgres');
  const client = await connect(url);
  for (const statement of SOURCE_DDL) await client.query(statement);
  await client.end();
  const dir = await mkdtemp(join(tmpdir(), 'wal-level-'));
  const receiver = await writeKeyPair(dir, 'backuptools', generateRsaKeyPair(2048));
  const signing = await writeKeyPair(dir, 'storx_signing', generateEd25519KeyPair());
  flags = ['--database', url, '--replication.webhook-url', 'http://127.0.0.1:1/webhook', '--replication.webhook-public-key', receiver.publicKeyPath, '--replication.signing-key', signing.privateKeyPath];
});
afterAll(async () => {
  await cluster.stop();
});

describe('wal_level is not logical', () => {
  it('run stops with the seed message and the fix, creating nothing', async () => {
    const run = await captureRun(main, ['run', ...flags], { STORX_CONFIG: '' });
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('error: wal_level is not logical (it is replica)');
    expect(run.stderr).toContain('fix: ALTER SYSTEM SET wal_level = logical; then restart PostgreSQL');
  });

  it('doctor marks it ✗ with the fix and checks the rest', async () => {
    const doctor = await captureRun(main, ['doctor', ...flags], { STORX_CONFIG: '' });
    expect(doctor.code).toBe(1);
    expect(doctor.stdout).toMatch(/✗ .*wal_level/);
    expect(doctor.stdout).toContain('ALTER SYSTEM SET wal_level = logical');
    expect(doctor.stdout).toMatch(/✓ .*REPLICATION/);
  });
});
