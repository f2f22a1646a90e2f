#!/usr/bin/env node
// Writes packages/protocol/test-vectors/ from the built package (run `pnpm build` first).
// The committed vectors are fixed: regenerate only when the wire format changes, and say so
// in docs/protocol.md. test/test-vectors.test.ts checks that they still open.
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { createPrivateKey, createPublicKey } from 'node:crypto';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { encodeBatch, encodeSeedEvent, generateEd25519KeyPair, generateRsaKeyPair, keyId, sealBatchV2, sealBatchV3, sealSeedV1, signWebhook, writeKeyPair } from '../dist/index.js';

const out = join(dirname(fileURLToPath(import.meta.url)), '..', 'test-vectors');
const NOW = 1765016400; // 2025-12-06T10:20:00Z

await rm(out, { recursive: true, force: true });
await mkdir(out, { recursive: true });
const receiver = generateRsaKeyPair(2048);
const sender = generateEd25519KeyPair();
await writeKeyPair(out, 'receiver', receiver);
await writeKeyPair(out, 'sender', sender);

const receiverPublic = createPublicKey(receiver.publicKeyPem);
const senderPrivate = createPrivateKey(sender.privateKeyPem);
const common = { schema: 'satellite/0', table: 'objects', timestamp: '2025-12-06T10:19:59.123456Z', commit_lsn: '16/B374D9A0', xid: 7481 };
const batch = {
  version: 2,
  source_id: 'storx-1',
  slot: 'backuptools_slot',
  commit_lsn: '16/B374D9A0',
  chunk: { index: 0, last: true },
  relations: [
    {
      schema: 'satellite/0',
      table: 'objects',
      replica_identity: 'default',
      columns: [
        { name: 'project_id', type: 'uuid', not_null: true },
        { name: 'object_key', type: 'bytea', not_null: true },
        { name: 'total_size', type: 'numeric(38,10)', not_null: false },
        { name: 'created_at', type: 'timestamp with time zone', not_null: true },
        { name: 'metadata', type: 'jsonb', not_null: false },
        { name: 'note', type: 'text', not_null: false },
      ],
      key_columns: ['project_id', 'object_key'],
    },
  ],
  events: [
    { operation: 'INSERT', ...common, lsn: '16/B374D848', seq: 0, data: { project_id: '0b5d3c1e-6f7a-4d2b-9c8e-1a2b3c4d5e6f', object_key: '\\x00ff10', total_size: '12345678901234567890123456.0123456789', created_at: '2025-12-06 10:19:59.123456+00', metadata: 'null', note: null }, old_data: null, unchanged_toast: [] },
    { operation: 'UPDATE', ...common, lsn: '16/B374D900', seq: 1, data: { project_id: '0b5d3c1e-6f7a-4d2b-9c8e-1a2b3c4d5e6f', object_key: '\\x00ff10', total_size: 'NaN', created_at: 'infinity', metadata: '{"a": [1, 2.50]}' }, old_data: null, unchanged_toast: ['note'] },
    { operation: 'DELETE', ...common, lsn: '16/B374D960', seq: 2, data: null, old_data: { project_id: '0b5d3c1e-6f7a-4d2b-9c8e-1a2b3c4d5e6f', object_key: '\\x00ff10' }, unchanged_toast: [] },
  ],
};

const batchBytes = encodeBatch(batch);
await writeFile(join(out, 'batch.json'), batchBytes);
const sealed = await sealBatchV2(batch, { key: receiverPublic, kid: keyId(receiverPublic) });
const headers = signWebhook({ id: sealed.id, timestamp: NOW, body: sealed.body, signingKeys: [senderPrivate] });
await writeFile(join(out, 'v2-request.json'), `${JSON.stringify({ now: NOW, kid: keyId(receiverPublic), signer_kid: keyId(senderPrivate), headers: { ...headers, 'content-type': sealed.contentType }, body: sealed.body }, null, 2)}\n`);

// v3: the body is bytes (base64 here only to fit in JSON), signed v1d.
const sealedV3 = sealBatchV3(batch, { key: receiverPublic, kid: keyId(receiverPublic) });
const headersV3 = signWebhook({ id: sealedV3.id, timestamp: NOW, body: sealedV3.body, signingKeys: [senderPrivate], scheme: 'v1d' });
await writeFile(join(out, 'v3-request.json'), `${JSON.stringify({ now: NOW, kid: keyId(receiverPublic), signer_kid: keyId(senderPrivate), headers: { ...headersV3, 'content-type': sealedV3.contentType }, body_base64: sealedV3.body.toString('base64') }, null, 2)}\n`);

const event = batch.events[0];
const eventBytes = encodeSeedEvent(event);
await writeFile(join(out, 'seed-v1-event.json'), eventBytes);
await writeFile(join(out, 'seed-v1-body.txt'), sealSeedV1(eventBytes, receiverPublic));
console.log(`test vectors written to ${out}`);
