// The sender signs (and seals) in what the receiver's ping answer says it takes, and follows a
// receiver replaced by an older one: a stand-in receiver over real HTTP that verifies every
// request with the protocol's own functions and records what it got.
import { createPrivateKey, createPublicKey } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { type FormatSetting, generateEd25519KeyPair, generateRsaKeyPair, keyId, type Lsn, openV2, V2_MEDIA_TYPE, verifyWebhook } from '@storx-backup/protocol';
import { createLogger } from '@storx-backup/service-kit';
import type { OutgoingBatch } from '../src/batch/outgoing-batch.js';
import { BatchDelivery } from '../src/deliver/batch-delivery.js';
import { RelationMetadata } from '../src/deliver/relation-metadata.js';
import { WebhookClient } from '../src/deliver/webhook-client.js';
import { ReplicatorMetrics } from '../src/metrics.js';
import { encodedEventsOf } from './encoded-events-of.js';

const rsa = generateRsaKeyPair(2048);
const recipientKey = createPublicKey(rsa.publicKeyPem);
const ed = generateEd25519KeyPair();
const signingKey = createPrivateKey(ed.privateKeyPem);
const trusted = { key: createPublicKey(ed.publicKeyPem), kid: keyId(signingKey) };
const decryptionKeys = [{ key: createPrivateKey(rsa.privateKeyPem), kid: keyId(recipientKey) }];

interface Seen {
  kind: 'ping' | 'batch';
  scheme: string;
  contentType: string;
  /** A v2 batch's `acknowledges`, when it has one. */
  acknowledges?: string;
}

/** The `acknowledges` member of a v2 batch (v3 and seed bodies are not opened here; the test batch has no relations, so it is read, not validated). */
async function acknowledgesOf(body: Buffer, contentType: string): Promise<string | undefined> {
  if (contentType !== V2_MEDIA_TYPE) return undefined;
  return (JSON.parse(Buffer.from(await openV2(body, decryptionKeys)).toString('utf8')) as { acknowledges?: string }).acknowledges;
}

/** Answers pings with `accepts` (or without it: a receiver older than it) and batches with the status `takes()` gives. */
async function standIn(behaviour: { accepts: () => object | undefined; takes: (scheme: string, contentType: string, acknowledges: string | undefined) => boolean | number }): Promise<{ server: Server; url: URL; seen: Seen[] }> {
  const seen: Seen[] = [];
  const server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    // A failure here answers 500 (the test then fails on what was seen), never hangs the sender.
    const answer = async (): Promise<void> => {
      const body = Buffer.concat(chunks);
      const headers = request.headers as IncomingHttpHeaders & Record<string, string>;
      const verified = verifyWebhook({ headers, body, trustedKeys: [trusted] });
      const kind = headers['webhook-id']!.includes(':ping:') ? 'ping' : 'batch';
      const acknowledges = kind === 'batch' ? await acknowledgesOf(body, headers['content-type'] ?? '') : undefined;
      seen.push({ kind, scheme: verified.scheme, contentType: headers['content-type'] ?? '', ...(acknowledges !== undefined ? { acknowledges } : {}) });
      response.setHeader('content-type', 'application/json');
      if (kind === 'ping') {
        const accepts = behaviour.accepts();
        response.end(JSON.stringify({ status: 'ping', watermark: null, ...(accepts ? { accepts } : {}) }));
      } else {
        const verdict = behaviour.takes(verified.scheme, headers['content-type'] ?? '', acknowledges);
        if (verdict === true) {
          response.end(JSON.stringify({ status: 'applied', watermark: null }));
        } else {
          response.statusCode = verdict === false ? 401 : verdict;
          response.end(JSON.stringify({ error: response.statusCode === 401 ? 'unauthorized' : 'UNSUPPORTED_MEDIA_TYPE' }));
        }
      }
    };
    request.on('end', () => void answer().catch((error: unknown) => response.writeHead(500).end(String(error))));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, url: new URL(`http://127.0.0.1:${(server.address() as AddressInfo).port}/webhook`), seen };
}

let cleanup: (() => Promise<void>) | undefined;
afterEach(async () => {
  await cleanup?.();
  cleanup = undefined;
});

function delivery(url: URL, format: FormatSetting = 'v2'): BatchDelivery {
  const client = new WebhookClient(url, { timeoutMs: 10_000 });
  const result = new BatchDelivery({
    sourceId: 'negotiation',
    slot: 'backuptools_slot',
    format,
    recipient: { key: recipientKey, kid: keyId(recipientKey) },
    signingKeys: [signingKey],
    retryDelayMs: 10,
    maxRetryDelayMs: 200,
    blockedRetryIntervalMs: 20,
    url,
    maxRetries: 3,
    client,
    metadata: new RelationMetadata({ query: () => Promise.reject(new Error('no relation is resolved here')) }),
    metrics: new ReplicatorMetrics(),
    logger: createLogger({ name: 'test', level: 'silent' }),
  });
  const previous = cleanup;
  cleanup = async () => {
    client.close();
    await previous?.();
  };
  return result;
}

/** A batch of one event and no relation to resolve: what is checked here is how it is sealed and signed. */
const emptyBatch = (): OutgoingBatch => ({
  commitLsn: 0x100n as Lsn,
  chunk: { index: 0, last: true },
  ackLsn: undefined,
  events: encodedEventsOf([{ operation: 'INSERT', schema: 'public', table: 't', timestamp: '2026-01-01T00:00:00.000000Z', lsn: '0/100', commit_lsn: '0/100', xid: 1, seq: 0, data: { a: '1' }, old_data: null, unchanged_toast: [] }]),
  relations: new Map(),
  bytes: 0,
  lastCommitTimeMs: 0,
});

/** One ping, then one batch, toward a stand-in whose ping answer is `accepts`: what the stand-in saw. */
async function pingThenDeliver(accepts: object | undefined, format: FormatSetting = 'v2'): Promise<Seen[]> {
  const { server, url, seen } = await standIn({ accepts: () => accepts, takes: () => true });
  cleanup = () => new Promise((resolve) => server.close(() => resolve()));
  try {
    const sender = delivery(url, format);
    await sender.ping();
    await sender.deliver(emptyBatch(), new AbortController().signal);
    return seen;
  } finally {
    // Closed here, not after the test: the callers run several stand-ins one after the other.
    await cleanup?.();
    cleanup = undefined;
  }
}

/**
 * The receiver is swapped for an older one between the ping and the batch: before the swap it
 * answers pings with `accepts` and takes everything; after it, pings get no `accepts` and a batch
 * gets what `olderTakes` says. Returns what was seen and whether the sender gave up.
 */
async function deliverAcrossSwap(accepts: object, olderTakes: (scheme: string, contentType: string, acknowledges: string | undefined) => boolean | number, format: FormatSetting = 'v2'): Promise<{ seen: Seen[]; failure: unknown }> {
  let upgraded = true;
  const { server, url, seen } = await standIn({
    accepts: () => (upgraded ? accepts : undefined),
    takes: (...args) => upgraded || olderTakes(...args),
  });
  cleanup = () => new Promise((resolve) => server.close(() => resolve()));
  const sender = delivery(url, format);
  await sender.ping();
  upgraded = false;
  await sender.deliver(emptyBatch(), new AbortController().signal);
  return { seen, failure: sender.failure };
}

describe('signature scheme negotiation', () => {
  it('a receiver that does not advertise v1d gets v1a; one that does gets v1d', async () => {
    for (const [accepts, expected] of [
      [undefined, 'v1a'],
      [{ formats: ['v2', 'seed-v1'], signatures: ['v1a'] }, 'v1a'],
      [{ formats: ['v2', 'seed-v1'], signatures: ['v1d', 'v1a'], future: true }, 'v1d'],
    ] as const) {
      expect(await pingThenDeliver(accepts)).toEqual([
        { kind: 'ping', scheme: 'v1a', contentType: 'application/jose' },
        { kind: 'batch', scheme: expected, contentType: 'application/jose' },
      ]);
    }
  });

  it('a receiver replaced by one that knows only v1a: the refused batch is pinged through and sent again signed v1a', async () => {
    const { seen, failure } = await deliverAcrossSwap({ formats: ['v2'], signatures: ['v1d', 'v1a'] }, (scheme) => scheme === 'v1a');
    expect(seen.map((entry) => `${entry.kind}:${entry.scheme}`)).toEqual(['ping:v1a', 'batch:v1d', 'ping:v1a', 'batch:v1a']);
    expect(failure).toBeUndefined();
  });
});

describe('body format negotiation (replication.format)', () => {
  const V3 = 'application/vnd.storx.envelope.v3';
  const V2 = 'application/jose';

  it('auto: v3 to a receiver that names it, v2 to one that does not; a fixed v2 stays v2', async () => {
    for (const [format, accepts, expected] of [
      ['auto', { formats: ['v3', 'v2', 'seed-v1'], signatures: ['v1d', 'v1a'] }, V3],
      ['auto', undefined, V2],
      ['auto', { formats: ['v2', 'seed-v1'], signatures: ['v1d', 'v1a'] }, V2],
      ['v2', { formats: ['v3', 'v2', 'seed-v1'], signatures: ['v1d', 'v1a'] }, V2],
      ['v3', undefined, V3],
    ] as const) {
      const seen = await pingThenDeliver(accepts, format);
      expect({ format, accepts, batch: seen.at(-1)?.contentType }).toEqual({ format, accepts, batch: expected });
      // Pings are always v2 signed v1a: what every receiver takes.
      expect(seen[0]).toEqual({ kind: 'ping', scheme: 'v1a', contentType: V2 });
    }
  });

  it('auto, the receiver replaced by one older than v3: the batch refused with 415 is sealed again as v2 after the ping', async () => {
    const { seen, failure } = await deliverAcrossSwap({ formats: ['v3', 'v2'], signatures: ['v1d', 'v1a'] }, (scheme, contentType) => (contentType === V2 && scheme === 'v1a' ? true : contentType === V3 ? 415 : false), 'auto');
    expect(seen.map((entry) => `${entry.kind}:${entry.contentType}:${entry.scheme}`)).toEqual([`ping:${V2}:v1a`, `batch:${V3}:v1d`, `ping:${V2}:v1a`, `batch:${V2}:v1a`]);
    expect(failure).toBeUndefined();
  });
});

describe('acknowledges: "durable" (the receiver may commit asynchronously)', () => {
  const DURABLE = { formats: ['v2'], signatures: ['v1a'], durable: true };

  it('only to a receiver whose ping answer says durable', async () => {
    for (const [accepts, expected] of [
      [undefined, undefined],
      [{ formats: ['v2'], signatures: ['v1a'] }, undefined],
      [DURABLE, 'durable'],
    ] as const) {
      const seen = await pingThenDeliver(accepts);
      expect({ accepts, acknowledges: seen.at(-1)?.acknowledges }).toEqual({ accepts, acknowledges: expected });
    }
  });

  it('a receiver replaced by one that does not know it: the batch refused with 422 goes again without it after the ping', async () => {
    const { seen, failure } = await deliverAcrossSwap(DURABLE, (_scheme, _contentType, acknowledges) => (acknowledges === undefined ? true : 422));
    expect(seen.map((entry) => `${entry.kind}:${entry.acknowledges ?? '-'}`)).toEqual(['ping:-', 'batch:durable', 'ping:-', 'batch:-']);
    expect(failure).toBeUndefined();
  });
});
