import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeKeyPair } from '@storx-backup/protocol';
import { createLogger } from '@storx-backup/service-kit';
import { connect, createDatabase, waitFor } from '@storx-backup/test-postgres';
import type pg from 'pg';
import { loadReceiverConfig } from '../src/config.js';
import { startReceiver } from '../src/server.js';
import { batchOf, OBJECTS, objectRow, signedRequest, testKeys } from './support.js';

let databaseUrl: string;
let backup: pg.Client;
beforeAll(async () => {
  databaseUrl = await createDatabase(inject('pgBackupUrl'), 'graceful');
  backup = await connect(databaseUrl);
});
afterAll(async () => {
  await backup.end();
});

describe('graceful shutdown', () => {
  it('finishes the batch in flight, then stops accepting', async () => {
    const keys = testKeys();
    const dir = await mkdtemp(join(tmpdir(), 'graceful-'));
    const receiverKeys = await writeKeyPair(dir, 'receiver', keys.pem.receiver);
    const senderKeys = await writeKeyPair(dir, 'sender', keys.pem.sender);
    const config = loadReceiverConfig({
      env: {},
      configFile: undefined,
      flags: new Map(Object.entries({ 'database-url': databaseUrl, 'listen-host': '127.0.0.1', 'listen-port': '0', 'private-keys': receiverKeys.privateKeyPath, 'trusted-sender-keys': senderKeys.publicKeyPath })),
    });
    const receiver = await startReceiver(config, createLogger({ name: 'graceful', level: 'silent' }));
    // A first batch creates the watermark row; the test then holds that row's lock, so the next
    // batch is provably in flight (waiting inside its transaction) when close() is called.
    const first = await signedRequest(batchOf([OBJECTS], [{ operation: 'INSERT', data: objectRow(0), old_data: null, unchanged_toast: [] }], { sourceId: 'graceful' }), keys);
    expect((await fetch(`${receiver.url}/webhook`, { method: 'POST', headers: first.headers, body: first.payload })).status).toBe(200);
    await backup.query('BEGIN');
    await backup.query("SELECT * FROM backuptools_state.watermarks WHERE source_id = 'graceful' FOR UPDATE");
    const rows = Array.from({ length: 2000 }, (_, index) => ({ operation: 'INSERT' as const, data: objectRow(index + 1), old_data: null, unchanged_toast: [] }));
    const request = await signedRequest(batchOf([OBJECTS], rows, { sourceId: 'graceful' }), keys);
    const inFlight = fetch(`${receiver.url}/webhook`, { method: 'POST', headers: { ...request.headers, connection: 'close' }, body: request.payload });
    await waitFor(async () => {
      const { rows: waiting } = await backup.query<{ n: string }>("SELECT count(*)::text AS n FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND application_name = 'backuptools-receiver'");
      return waiting[0]!.n === '1';
    }, { description: 'the batch to wait for the watermark lock', timeoutMs: 10_000, intervalMs: 10 });
    const closing = receiver.close();
    await backup.query('COMMIT');
    const response = await inFlight;
    expect(response.status).toBe(200);
    await closing;
    const { rows: count } = await backup.query<{ n: string }>('SELECT count(*)::text AS n FROM "satellite/0".objects');
    expect(count[0]!.n).toBe('2001');
    await expect(fetch(`${receiver.url}/healthz`)).rejects.toThrow();
  });
});
