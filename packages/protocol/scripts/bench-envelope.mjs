#!/usr/bin/env node
// Micro-benchmark of the envelope and signature steps (not a test; nothing asserts on time).
// CPU µs (process.cpuUsage: every thread of the process, the thread pool included) per request,
// for a 1 MiB batch and for a 1-row batch, on the sender (seal + sign) and the receiver
// (verify + open: the body as a Buffer, as it arrives), for:
//   v2         JWE, a fresh content key per request, signed v1a (before #14)
//   v2+v1d     the same, signed v1d (Ed25519 over SHA-256 of the body)
//   v2+v1d+key the same, one content key per session (the receiver unwraps it once)
//   v3         binary frame, v1d, one content key per session (what `auto` sends to a v3 receiver)
// Run:  pnpm build && node packages/protocol/scripts/bench-envelope.mjs [--rounds N] [--rsa-bits 3072]
import { Buffer } from 'node:buffer';
import { createPrivateKey, createPublicKey } from 'node:crypto';
import {
  bodyDigest,
  ContentKeys,
  encodeBatch,
  generateEd25519KeyPair,
  generateRsaKeyPair,
  keyId,
  openV2,
  openV3,
  sealV2,
  sealV3,
  signWebhook,
  UnwrappedKeyCache,
  verifyWebhookOffLoop,
} from '../dist/index.js';

const arg = (name, fallback) => {
  const index = process.argv.indexOf(`--${name}`);
  return index === -1 ? fallback : Number(process.argv[index + 1]);
};
const ROUNDS = arg('rounds', 30);
const RSA_BITS = arg('rsa-bits', 3072);

const rsa = generateRsaKeyPair(RSA_BITS);
const recipient = { key: createPublicKey(rsa.publicKeyPem), kid: keyId(createPublicKey(rsa.publicKeyPem)) };
const decryptionKeys = [{ key: createPrivateKey(rsa.privateKeyPem), kid: recipient.kid }];
const ed = generateEd25519KeyPair();
const signingKey = createPrivateKey(ed.privateKeyPem);
const trustedKeys = [{ key: createPublicKey(ed.publicKeyPem), kid: keyId(signingKey) }];

/** A batch of `rows` ~300-byte `objects` inserts, as the replicator encodes it. */
function batchOf(rows) {
  const events = Array.from({ length: rows }, (_, index) => ({
    operation: 'INSERT', schema: 'satellite/0', table: 'objects', timestamp: '2026-01-01T00:00:00.123456Z', lsn: '16/B374D9A0', commit_lsn: '16/B374D9A0', xid: 7481, seq: index,
    data: { project_id: '0b5d3c1e-6f7a-4d2b-9c8e-1a2b3c4d5e6f', bucket_name: '\\x6275636b6574', object_key: `\\x${index.toString(16).padStart(40, '0')}`, version: '1', status: '1', total_size: '1048576', created_at: '2026-01-01 00:00:00.123456+00', encrypted_metadata: `\\x${'ab'.repeat(40)}` },
    old_data: null, unchanged_toast: [],
  }));
  return encodeBatch({ version: 2, source_id: 'storx-1', slot: 'backuptools_slot', commit_lsn: '16/B374D9A0', chunk: { index: 0, last: true }, relations: [], events });
}
const rowBytes = batchOf(2).length - batchOf(1).length;
const oneMiB = batchOf(Math.floor((1024 * 1024) / rowBytes));
const oneRow = batchOf(1);

const ID = 'storx-1:backuptools_slot:00000016B374D9A0:0';
const now = () => Math.floor(Date.now() / 1000);

const variants = {
  v2: {
    async send(plaintext) {
      const body = await sealV2(plaintext, recipient);
      return { headers: signWebhook({ id: ID, timestamp: now(), body, signingKeys: [signingKey] }), body: Buffer.from(body, 'latin1') };
    },
    async receive(request) {
      await verifyWebhookOffLoop({ headers: request.headers, body: request.body, trustedKeys });
      return openV2(request.body, decryptionKeys);
    },
  },
  'v2+v1d': {
    async send(plaintext) {
      const body = await sealV2(plaintext, recipient);
      return { headers: signWebhook({ id: ID, timestamp: now(), body, signingKeys: [signingKey], scheme: 'v1d', bodyDigest: bodyDigest(body) }), body: Buffer.from(body, 'latin1') };
    },
    async receive(request) {
      await verifyWebhookOffLoop({ headers: request.headers, body: request.body, trustedKeys });
      return openV2(request.body, decryptionKeys);
    },
  },
  'v2+v1d+key': {
    contentKeys: new ContentKeys(),
    cache: new UnwrappedKeyCache(),
    async send(plaintext) {
      const body = await sealV2(plaintext, recipient, this.contentKeys);
      return { headers: signWebhook({ id: ID, timestamp: now(), body, signingKeys: [signingKey], scheme: 'v1d', bodyDigest: bodyDigest(body) }), body: Buffer.from(body, 'latin1') };
    },
    async receive(request) {
      await verifyWebhookOffLoop({ headers: request.headers, body: request.body, trustedKeys });
      return openV2(request.body, decryptionKeys, this.cache);
    },
  },
  v3: {
    contentKeys: new ContentKeys(),
    cache: new UnwrappedKeyCache(),
    async send(plaintext) {
      const body = sealV3(plaintext, recipient, this.contentKeys);
      return { headers: signWebhook({ id: ID, timestamp: now(), body, signingKeys: [signingKey], scheme: 'v1d' }), body };
    },
    async receive(request) {
      await verifyWebhookOffLoop({ headers: request.headers, body: request.body, trustedKeys });
      return openV3(request.body, decryptionKeys, { unwrappedKeys: this.cache, inPlace: true });
    },
  },
};

function cpuMicros(start) {
  const used = process.cpuUsage(start);
  return used.user + used.system;
}

async function measure(variant, plaintext, rounds) {
  // Warm up (JIT, the session's first key), then time each side separately.
  for (let index = 0; index < 3; index += 1) await variant.receive(await variant.send(plaintext));
  const requests = [];
  let start = process.cpuUsage();
  for (let index = 0; index < rounds; index += 1) requests.push(await variant.send(plaintext));
  const send = cpuMicros(start) / rounds;
  start = process.cpuUsage();
  for (const request of requests) {
    const opened = await variant.receive(request);
    if (opened.length !== plaintext.length) throw new Error('opened the wrong plaintext');
  }
  const receive = cpuMicros(start) / rounds;
  return { send, receive };
}

const rows = [];
for (const [name, variant] of Object.entries(variants)) {
  const big = await measure(variant, oneMiB, ROUNDS);
  const small = await measure(variant, oneRow, ROUNDS * 10);
  rows.push({ variant: name, 'seal+sign µs/MiB': Math.round(big.send), 'verify+open µs/MiB': Math.round(big.receive), 'seal+sign µs/1-row': Math.round(small.send), 'verify+open µs/1-row': Math.round(small.receive) });
}
console.log(`node ${process.version}, RSA-${RSA_BITS}, ${ROUNDS} rounds of a ${(oneMiB.length / 1048576).toFixed(2)} MiB batch (${Math.floor((1024 * 1024) / rowBytes)} rows) and ${ROUNDS * 10} of a 1-row batch (${oneRow.length} B)`);
console.table(rows);
