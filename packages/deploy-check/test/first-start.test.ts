import { randomUUID } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { loadReceiverConfig, main as receiverMain, startReceiver } from '@storx-backup/backuptools-receiver';
import { captureRun, createLogger } from '@storx-backup/service-kit';
import { loadReplicatorConfig, main as replicatorMain, Replicator } from '@storx-backup/storx-replicator';
import { connect, createDatabase, waitFor } from '@storx-backup/test-postgres';
import { DOCKER_DIR } from '../src/deployment.js';
import { deployment } from './support.js';

// docker/local/compose.yml without Docker: its source-init.sql on a real PostgreSQL, then the
// replicator and the receiver started with the compose file's environment and the config files
// it mounts, on keys made by the same `keys generate` commands. Only what Docker would provide
// differs: host names and ports (the test clusters'), the key directory (a temp dir instead of
// the "keys" volume), and unique database, role and slot names (the clusters may be shared).
const LOCAL = join(DOCKER_DIR, 'local');
const logger = createLogger({ name: 'deploy-check', level: 'warn' });
const cleanups: (() => Promise<void>)[] = [];
afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
});

function composeEnvironment(service: string): Record<string, string> {
  const found = deployment.composeFiles.find((file) => file.path === join(LOCAL, 'compose.yml'))?.services.find((candidate) => candidate.name === service);
  if (!found) throw new Error(`docker/local/compose.yml has no service ${service}`);
  return Object.fromEntries(found.environment);
}

describe('docker/local: first start without Docker', () => {
  it('source-init.sql gives the replication role what run needs; rows reach the backup', async () => {
    const suffix = randomUUID().slice(0, 8);
    const [database, role, slot] = [`storx_${suffix}`, `storx_replicator_${suffix}`, `backuptools_slot_${suffix}`];

    // The source: the init script as the database owner, in a database of its own.
    const admin = await connect(inject('pgSourceUrl'));
    cleanups.push(() => admin.end());
    await admin.query(`CREATE DATABASE ${database}`);
    const ownerUrl = new URL(inject('pgSourceUrl'));
    ownerUrl.pathname = `/${database}`;
    const owner = await connect(ownerUrl.href);
    cleanups.push(async () => {
      await owner.end();
      await admin.query(`SELECT pg_drop_replication_slot('${slot}') FROM pg_replication_slots WHERE slot_name = '${slot}'`);
      await admin.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
      await admin.query(`DROP ROLE IF EXISTS ${role}`);
    });
    const initSql = (await readFile(join(LOCAL, 'source-init.sql'), 'utf8')).replaceAll('storx_replicator', role).replaceAll('DATABASE storx ', `DATABASE ${database} `);
    await owner.query(initSql);

    // Keys: the compose file's one-shot services' command lines, into a temp dir for the volume.
    const keys = await mkdtemp(join(tmpdir(), 'deploy-check-first-start-'));
    cleanups.push(() => rm(keys, { recursive: true, force: true }));
    expect((await captureRun(receiverMain, ['keys', 'generate', '--out', keys])).code).toBe(0);
    expect((await captureRun(replicatorMain, ['keys', 'generate', '--out', keys])).code).toBe(0);

    // The receiver: compose environment + docker/local/receiver.yaml; the backup database and the
    // key paths are the test's.
    const backupUrl = await createDatabase(inject('pgBackupUrl'), 'deploycheck');
    const receiver = await startReceiver(
      loadReceiverConfig({
        env: { ...composeEnvironment('receiver'), BACKUPTOOLS_DATABASE_URL: backupUrl },
        flags: new Map([
          ['listen-host', '127.0.0.1'],
          ['listen-port', '0'],
          ['private-keys', join(keys, 'backuptools_private.pem')],
          ['trusted-sender-keys', join(keys, 'storx_signing_public.pem')],
        ]),
        configFile: join(LOCAL, 'receiver.yaml'),
      }),
      logger,
    );
    cleanups.push(() => receiver.close());

    // The replicator: compose environment (its STORX_DATABASE as written, with this cluster's
    // host, port, database and role) + docker/local/replicator.yaml.
    const environment = composeEnvironment('replicator');
    const sourceUrl = new URL(environment['STORX_DATABASE']!);
    sourceUrl.host = ownerUrl.host;
    sourceUrl.pathname = `/${database}`;
    sourceUrl.username = role;
    const config = loadReplicatorConfig({
      env: { ...environment, STORX_DATABASE: sourceUrl.href },
      flags: new Map([
        ['replication.webhook-url', `${receiver.url}/webhook`],
        ['replication.webhook-public-key', join(keys, 'backuptools_public.pem')],
        ['replication.signing-key', join(keys, 'storx_signing_private.pem')],
        ['replication.slot-name', slot],
        ['replication.metrics-listen', '127.0.0.1:0'],
      ]),
      configFile: join(LOCAL, 'replicator.yaml'),
    });
    const replicator = new Replicator(config, logger);
    const running = replicator.run();
    cleanups.push(async () => {
      await replicator.stop();
      await running.catch(() => undefined);
    });

    // The application writes; the backup receives it. A replicator that stops (a privilege the
    // role lacks, a publication it may not create) fails the test with its own error.
    const stopped = running.then(() => {
      throw new Error('the replicator stopped');
    });
    const backup = await connect(backupUrl);
    cleanups.push(() => backup.end());
    await Promise.race([
      stopped,
      (async () => {
        await waitFor(async () => (await owner.query(`SELECT 1 FROM pg_replication_slots WHERE slot_name = '${slot}' AND active`)).rowCount === 1, {
          description: 'the replicator streaming from its slot',
          timeoutMs: 30_000,
        });
        await owner.query(`INSERT INTO "satellite/0".segments (stream_id, position, plain_size) SELECT gen_random_uuid(), n, n FROM generate_series(1, 100) AS n`);
        await waitFor(async () => (await backup.query<{ count: string }>(`SELECT count(*) FROM "satellite/0".segments`)).rows[0]?.count === '100', {
          description: '100 rows in the backup',
          timeoutMs: 30_000,
        });
      })(),
    ]);
  });
});
