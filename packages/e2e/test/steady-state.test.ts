// Scenarios 1, 10, 11 and 12 on one running system: mixed concurrent writes and a TRUNCATE;
// a TOAST value kept through updates of other columns; an idle slot that retains no WAL; and
// forged, replayed, tampered and stale requests sent to the running receiver changing nothing.
import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, waitFor } from '@storx-backup/test-postgres';
import { generateEd25519KeyPair, sealBatchV2, signWebhook, keyId } from '@storx-backup/protocol';
import { createPrivateKey, createPublicKey } from 'node:crypto';
import { e2eTableDigest, expectBackupEqualsSource } from '../src/invariant.js';
import { System } from '../src/system.js';
import { runWorkload } from '../src/workload.js';

let system: System;
beforeAll(async () => {
  system = await System.start();
});
afterAll(async () => {
  await system?.stop();
});

describe('steady state', () => {
  it('mixed inserts, updates, deletes and a TRUNCATE from concurrent writers arrive exactly', async () => {
    const writers = runWorkload(system.sourceUrl, { writers: 4, transactions: 150, pauseMs: 10 });
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    await system.source.query('TRUNCATE segments');
    await writers;
    await expectBackupEqualsSource(system);
  });

  it('keeps a 100 kB TOAST value through updates of other columns, under REPLICA IDENTITY DEFAULT and FULL', async () => {
    await system.source.query("INSERT INTO toasty (id, big) VALUES (1000, (SELECT string_agg(md5(random()::text), '') FROM generate_series(1, 3200)))");
    await system.source.query('UPDATE toasty SET counter = counter + 1 WHERE id = 1000');
    await system.source.query('ALTER TABLE toasty REPLICA IDENTITY FULL');
    await system.source.query('UPDATE toasty SET counter = counter + 1 WHERE id = 1000');
    await system.source.query('ALTER TABLE toasty REPLICA IDENTITY DEFAULT');
    const { rows } = await system.source.query<{ length: number }>('SELECT length(big) AS length FROM toasty WHERE id = 1000');
    expect(rows[0]!.length).toBe(3200 * 32);
    await expectBackupEqualsSource(system);
  });

  it('moves an idle slot to the end of the WAL: no WAL retained once activity stops', async () => {
    const { rows } = await system.source.query<{ lsn: string }>('SELECT pg_current_wal_lsn()::text AS lsn');
    await waitFor(
      async () => {
        const { rows: slot } = await system.source.query<{ behind: boolean }>('SELECT confirmed_flush_lsn >= $1::pg_lsn AS behind FROM pg_replication_slots WHERE slot_name = $2', [rows[0]!.lsn, system.slotName]);
        return slot[0]?.behind === true;
      },
      { description: `slot to reach ${rows[0]!.lsn}`, timeoutMs: 60_000, intervalMs: 250 },
    );
  });

  it('changes nothing for forged, replayed, tampered and stale requests sent during a workload', async () => {
    const writers = runWorkload(system.sourceUrl, { writers: 2, transactions: 150 });
    const url = `http://127.0.0.1:${system.receiverPort}/webhook`;
    const publicPem = await readFile(system.keyPath('backuptools_public.pem'), 'utf8');
    const recipient = { key: createPublicKey(publicPem), kid: keyId(createPublicKey(publicPem)) };
    const evil = { version: 2 as const, source_id: 'attacker', slot: system.slotName, commit_lsn: 'FFFFFFFF/0', chunk: { index: 0, last: true }, relations: [{ schema: 'satellite/0', table: 'toasty', replica_identity: 'default' as const, columns: [{ name: 'id', type: 'integer', not_null: true }, { name: 'big', type: 'text', not_null: false }, { name: 'counter', type: 'integer', not_null: true }], key_columns: ['id'] }], events: [{ operation: 'TRUNCATE' as const, schema: 'satellite/0', table: 'toasty', timestamp: 't', lsn: 'FFFFFFFF/0', commit_lsn: 'FFFFFFFF/0', xid: 1, seq: 0, data: null, old_data: null, unchanged_toast: [] }] };
    const sealed = await sealBatchV2(evil, recipient);
    const now = Math.floor(Date.now() / 1000);
    const forger = createPrivateKey(generateEd25519KeyPair().privateKeyPem);
    const trusted = createPrivateKey(await readFile(system.keyPath('storx_signing_private.pem'), 'utf8'));
    const attempts: { name: string; headers: Record<string, string>; body: string; status: number }[] = [
      { name: 'forged (encrypted right, signed by an unknown key)', headers: signWebhook({ id: sealed.id, timestamp: now, body: sealed.body, signingKeys: [forger] }), body: sealed.body, status: 401 },
      { name: 'stale (signed by the real key an hour ago)', headers: signWebhook({ id: sealed.id, timestamp: now - 3600, body: sealed.body, signingKeys: [trusted] }), body: sealed.body, status: 401 },
      { name: 'tampered after signing', headers: signWebhook({ id: sealed.id, timestamp: now, body: sealed.body, signingKeys: [trusted] }), body: `${sealed.body.slice(0, -4)}AAAA`, status: 401 },
      { name: 'unsigned', headers: {}, body: sealed.body, status: 400 },
    ];
    for (const attempt of attempts) {
      const response = await fetch(url, { method: 'POST', headers: { ...attempt.headers, 'content-type': 'application/jose' }, body: attempt.body });
      expect(response.status, attempt.name).toBe(attempt.status);
    }
    // A replay: a batch for a position the receiver already applied (as a captured request
    // re-sent later would be) is a duplicate and changes nothing, even correctly signed.
    const backupClient = await connect(system.backupUrl);
    const { rows: sources } = await backupClient.query<{ source_id: string; system_id: string; timeline: string }>('SELECT source_id, source_system_id AS system_id, source_timeline::text AS timeline FROM backuptools_state.watermarks');
    await backupClient.end();
    const { source_id: sourceId, system_id: systemId, timeline } = sources[0]!;
    // From the recorded system and timeline, as a captured request would be (a batch without an
    // origin is refused outright once the receiver has recorded one).
    const origin = { system_id: systemId, timeline: Number(timeline), history: [] };
    const replay = await sealBatchV2({ ...evil, source_id: sourceId, origin, commit_lsn: '0/1', events: [{ ...evil.events[0]!, lsn: '0/1', commit_lsn: '0/1' }] }, recipient);
    const replayed = await fetch(url, { method: 'POST', headers: { ...signWebhook({ id: replay.id, timestamp: now, body: replay.body, signingKeys: [trusted] }), 'content-type': 'application/jose' }, body: replay.body });
    expect(await replayed.json()).toMatchObject({ status: 'duplicate' });
    await writers;
    const before = await e2eTableDigest(system.source, 'toasty');
    expect(before.count).toBeGreaterThan(0);
    await expectBackupEqualsSource(system);
    const backup = await connect(system.backupUrl);
    try {
      expect((await e2eTableDigest(backup, 'toasty')).count).toBe(before.count);
    } finally {
      await backup.end();
    }
  });
});
