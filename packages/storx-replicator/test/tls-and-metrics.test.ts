// An https:// receiver behind a private CA (receiver tls-cert/tls-key, replicator webhook-ca),
// and the replicator's own /metrics and /healthz with a heartbeat keeping a quiet slot moving.
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseLsn } from '@storx-backup/protocol';
import { waitFor } from '@storx-backup/test-postgres';
import { OBJECTS_KEY, type Pair, runReplicator, slotConfirmed, startPair, waitForTableEqual } from './support.js';

let pair: Pair;
let caPath: string;

/** A private CA and a certificate for 127.0.0.1 signed by it, made with the openssl command. */
function makeCertificates(dir: string): { ca: string; cert: string; key: string } {
  const file = (name: string): string => join(dir, name);
  const openssl = (...args: string[]): void => void execFileSync('openssl', args, { stdio: 'ignore' });
  openssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=storx test CA', '-keyout', file('ca.key'), '-out', file('ca.pem'));
  openssl('req', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=127.0.0.1', '-keyout', file('server.key'), '-out', file('server.csr'));
  execFileSync('sh', ['-c', `printf 'subjectAltName=IP:127.0.0.1' > ${file('san.ext')}`]);
  openssl('x509', '-req', '-in', file('server.csr'), '-CA', file('ca.pem'), '-CAkey', file('ca.key'), '-CAcreateserial', '-days', '1', '-extfile', file('san.ext'), '-out', file('server.pem'));
  return { ca: file('ca.pem'), cert: file('server.pem'), key: file('server.key') };
}

let certDir: string;
beforeAll(async () => {
  const { mkdtemp } = await import('node:fs/promises');
  const { tmpdir } = await import('node:os');
  certDir = await mkdtemp(join(tmpdir(), 'storx-tls-'));
  const certs = makeCertificates(certDir);
  caPath = certs.ca;
  pair = await startPair({ receiverFlags: { 'tls-cert': certs.cert, 'tls-key': certs.key } });
});
afterAll(async () => {
  await pair.close();
  const { rm } = await import('node:fs/promises');
  await rm(certDir, { recursive: true, force: true });
});

describe('https with a private CA', () => {
  it('delivers when the CA is trusted (webhook-ca)', async () => {
    expect(pair.receiver.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    const config = pair.config({ 'replication.webhook-ca': caPath, 'replication.source-id': 'tls' });
    const running = runReplicator(config);
    try {
      await waitFor(async () => (await slotConfirmed(pair.source, config.slotName)) !== null, { description: 'slot created', timeoutMs: 30_000 });
      await pair.source.query("INSERT INTO objects (project_id, bucket_name, object_key, version) VALUES (gen_random_uuid(), 'tls', 'a', 1)");
      await waitForTableEqual(pair, 'objects', OBJECTS_KEY);
    } finally {
      await running.stop();
    }
  });

  it('refuses an untrusted certificate: nothing is delivered, the slot stays, the replicator is unhealthy', async () => {
    const config = pair.config({ 'replication.source-id': 'tls-untrusted' });
    await pair.source.query(`SELECT pg_create_logical_replication_slot('${config.slotName}', 'pgoutput')`);
    const running = runReplicator(config);
    try {
      await pair.source.query('BEGIN');
      await pair.source.query("INSERT INTO objects (project_id, bucket_name, object_key, version) VALUES (gen_random_uuid(), 'tls', 'b', 1)");
      const { rows: bound } = await pair.source.query<{ lsn: string }>('SELECT pg_current_wal_insert_lsn()::text AS lsn');
      await pair.source.query('COMMIT');
      await waitFor(() => !running.replicator.healthy, { description: 'unhealthy after failed TLS handshakes', timeoutMs: 20_000 });
      const failures = await running.replicator.metrics.registry.getSingleMetricAsString('storx_replicator_delivery_failures_total');
      expect(failures).toMatch(/class="network"\} [1-9]/);
      // /healthz (and status) name the option that fixes it.
      expect(running.replicator.health()).toMatchObject({ status: 'unhealthy', failure: { code: 'network', fix: expect.stringContaining('set replication.webhook-ca') as string } });
      expect(parseLsn((await slotConfirmed(pair.source, config.slotName))!) <= parseLsn(bound[0]!.lsn)).toBe(true);
    } finally {
      await running.stop();
    }
  });
});

describe('replicator metrics and heartbeat', () => {
  it('serves /metrics and /healthz, and a heartbeat moves a quiet slot', async () => {
    const config = pair.config({ 'replication.webhook-ca': caPath, 'replication.source-id': 'metrics', 'replication.metrics-listen': '127.0.0.1:0', 'replication.heartbeat-interval': '200ms' });
    const running = runReplicator(config);
    try {
      await waitFor(async () => (await slotConfirmed(pair.source, config.slotName)) !== null, { description: 'slot created', timeoutMs: 30_000 });
      const first = parseLsn((await slotConfirmed(pair.source, config.slotName))!);
      // Heartbeats write WAL, and the idle slot follows them.
      await waitFor(async () => parseLsn((await slotConfirmed(pair.source, config.slotName))!) > first, { description: 'heartbeat advances the slot', timeoutMs: 20_000 });
      const address = await waitFor(() => running.replicator.metricsAddress, { description: 'metrics listening', timeoutMs: 10_000 });
      const metrics = await (await fetch(`${address}/metrics`)).text();
      for (const name of ['storx_replicator_slot_lag_bytes', 'storx_replicator_confirmed_lsn', 'storx_replicator_healthy 1', 'storx_replicator_commit_to_confirm_seconds_bucket', 'storx_replicator_delivery_failures_total']) {
        expect(metrics, name).toContain(name);
      }
      const health = await fetch(`${address}/healthz`);
      expect(health.status).toBe(200);
      expect(await health.json()).toEqual({ status: 'ok', failure: null });
    } finally {
      await running.stop();
    }
  });
});
