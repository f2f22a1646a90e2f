// The receiver under hostile, unauthenticated input, on a real `serve` process: stalled and
// trickling uploads, lying lengths, bodies that can never authenticate. Each test records the
// process's RSS and the slowest /healthz answer while it runs (printed), holds memory to a
// bound, and checks that nothing was applied.
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { createLogger } from '@storx-backup/service-kit';
import { createDatabase, peakRssBytes, rssBytes, waitFor } from '@storx-backup/test-postgres';
import { type BackupDb, createBackupDb } from '../src/db.js';
import { batchOf, objectRow, OBJECTS, signedRequest, STATE_SCHEMA, testKeys } from './support.js';
import { plausibleHeaders, rawRequest, type RawRequest, sampleHealth, type ServeProcess, startServe } from './support-serve.js';

const MiB = 1024 * 1024;
const BODY_LIMIT = 4 * MiB;
const BUDGET = 8 * MiB;
const keys = testKeys();
let dir: string;
let serve: ServeProcess;
let db: BackupDb;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'receiver-hostile-'));
  const databaseUrl = await createDatabase(inject('pgBackupUrl'), 'hostile');
  serve = await startServe(dir, keys, {
    'database-url': databaseUrl,
    tables: '["satellite/0.objects"]',
    'body-limit': '4MiB',
    'receive-budget': '8MiB',
    'request-timeout': '2s',
    'idle-timeout': '10s',
    'keep-alive-timeout': '2s',
  });
  ({ db } = createBackupDb(databaseUrl, 1, createLogger({ name: 'hostile-test', level: 'silent' })));
});

afterAll(async () => {
  await serve?.stop();
  await db?.destroy();
  await rm(dir, { recursive: true, force: true });
});

/** What the backup holds: nothing a hostile request sent may ever show up here. */
async function applied(): Promise<{ watermarks: number; objects: number }> {
  const watermarks = await sql<{ n: number }>`SELECT count(*)::int AS n FROM ${sql.id(STATE_SCHEMA, 'watermarks')}`.execute(db);
  const table = await sql<{ n: number }>`SELECT count(*)::int AS n FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'satellite/0' AND c.relname = 'objects'`.execute(db);
  const objects = table.rows[0]!.n === 0 ? 0 : (await sql<{ n: number }>`SELECT count(*)::int AS n FROM "satellite/0".objects`.execute(db)).rows[0]!.n;
  return { watermarks: watermarks.rows[0]!.n, objects };
}

async function openConnections(): Promise<number> {
  return (await readdir(`/proc/${serve.pid}/fd`)).length;
}

/** A valid signed batch still gets through: the budget was given back and the process is well. */
async function expectSignedBatchApplies(contentType = 'application/jose'): Promise<void> {
  const batch = batchOf([OBJECTS], [{ operation: 'INSERT', data: objectRow(Math.floor(Math.random() * 1e9)), old_data: null, unchanged_toast: [] }]);
  const request = await signedRequest(batch, keys);
  const response = await fetch(`${serve.url}/webhook`, { method: 'POST', headers: { ...request.headers, 'content-type': contentType }, body: request.payload });
  expect(response.status, await response.clone().text()).toBe(200);
  expect(await response.json()).toMatchObject({ status: 'applied' });
}

function report(what: string, numbers: Record<string, number>): void {
  console.log(`[hostile-http] ${what}: ${Object.entries(numbers).map(([key, value]) => `${key} ${value}`).join(', ')}`);
}

describe('the receiver under hostile input (a real serve process)', () => {
  it('stalled uploads: the receive budget refuses all but what fits at once (503, body unread), the rest are closed at request-timeout', async () => {
    const before = { rss: await rssBytes(serve.pid), peak: await peakRssBytes(serve.pid), fds: await openConnections(), applied: await applied() };
    const health = sampleHealth(serve.url);
    // 24 connections each declare the body limit: holding them all would be 96 MiB of bodies.
    const requests = Array.from({ length: 24 }, () => rawRequest(serve.port, { ...plausibleHeaders(), 'content-length': String(BODY_LIMIT) }));
    const refused = await waitFor(() => (requests.filter((request) => request.status() === 503).length === 24 - BUDGET / BODY_LIMIT ? requests.filter((request) => request.status() === 503) : undefined), {
      description: () => `22 answers 503 (statuses: ${requests.map((request) => request.status() ?? '-').join(' ')})`,
      timeoutMs: 30_000,
    });
    for (const request of refused) expect(request.received()).toMatch(/retry-after: \d+/i);
    const held = requests.filter((request) => !refused.includes(request));
    // The two that fit send all but the last 100 bytes, then stall.
    for (const request of held) request.socket.write(Buffer.alloc(BODY_LIMIT - 100, 0xff));
    await waitFor(() => requests.every((request) => request.isClosed()), { description: () => `every connection closed (open: ${requests.filter((request) => !request.isClosed()).length})`, timeoutMs: 30_000 });
    for (const request of held) expect(request.status()).toBe(408);
    const peak = await peakRssBytes(serve.pid);
    const { maxMs } = await health.stop();
    report('24 stalled 4 MiB uploads', { 'rss before MiB': Math.round(before.rss / MiB), 'peak growth MiB': Math.round((peak - before.peak) / MiB), 'slowest /healthz ms': maxMs });
    // Two bodies at most are ever held (8 MiB), plus buffers: far below the 96 MiB declared.
    expect(peak - before.peak).toBeLessThan(48 * MiB);
    await waitFor(async () => (await openConnections()) <= before.fds + 2 || undefined, { description: 'the connections to be gone from the process', timeoutMs: 20_000 });
    expect(await applied()).toEqual(before.applied);
    await expectSignedBatchApplies();
  });

  it('trickling uploads (a byte every 300 ms, with a length or chunked) are answered 408 and closed', async () => {
    const before = await applied();
    const health = sampleHealth(serve.url);
    const requests: RawRequest[] = [
      ...Array.from({ length: 20 }, () => rawRequest(serve.port, { ...plausibleHeaders(), 'content-length': String(64 * 1024) })),
      rawRequest(serve.port, { ...plausibleHeaders(), 'transfer-encoding': 'chunked' }),
    ];
    const trickle = setInterval(() => {
      for (const [index, request] of requests.entries()) if (!request.isClosed()) request.socket.write(index === 20 ? '1\r\nx\r\n' : 'x');
    }, 300);
    try {
      await waitFor(() => requests.every((request) => request.isClosed()), { description: () => `every trickling connection closed (open: ${requests.filter((request) => !request.isClosed()).length})`, timeoutMs: 40_000 });
    } finally {
      clearInterval(trickle);
    }
    for (const request of requests) expect(request.status()).toBe(408);
    const { maxMs } = await health.stop();
    report('21 trickling uploads', { 'slowest /healthz ms': maxMs });
    expect(await applied()).toEqual(before);
  });

  it('a body shorter than its Content-Length is answered 408 and closed, not held forever', async () => {
    const request = rawRequest(serve.port, { ...plausibleHeaders(), 'content-length': '100' });
    request.socket.write('x'.repeat(50));
    await waitFor(() => request.isClosed(), { description: 'the short request to be closed', timeoutMs: 30_000 });
    expect(request.status()).toBe(408);
  });

  it.each([
    ['415: no content type', { 'content-type': '' }, 415],
    ['415: JSON', { 'content-type': 'application/json' }, 415],
    ['413: a declared length over body-limit', { 'content-length': String(BODY_LIMIT + 1) }, 413],
    ['400: no webhook-signature', { 'webhook-signature': '' }, 400],
    ['400: three v1a signatures (two cover a rotation)', { 'webhook-signature': plausibleHeaders(3)['webhook-signature']! }, 400],
    ['400: a malformed timestamp', { 'webhook-timestamp': 'x'.repeat(8000) }, 400],
    ['401: a stale timestamp', { 'webhook-timestamp': String(Math.floor(Date.now() / 1000) - 3600) }, 401],
  ])('refuses before reading the body: %s', async (_name, override, status) => {
    const before = await applied();
    const headers: Record<string, string> = { ...plausibleHeaders(), 'content-length': String(MiB), ...override };
    for (const [name, value] of Object.entries(headers)) if (value === '') delete headers[name];
    // The body is never sent: the answer comes from the headers alone, and the connection closes.
    const request = rawRequest(serve.port, headers);
    await waitFor(() => request.isClosed(), { description: () => `an answer and a close (got: ${request.received().slice(0, 200)})`, timeoutMs: 20_000 });
    expect(request.status()).toBe(status);
    expect(request.received()).toMatch(/connection: close/i);
    expect(await applied()).toEqual(before);
  });

  it('bodies that can never authenticate (4 MiB of 0xFF, two random signatures) cost little: 401 each, /healthz keeps answering', async () => {
    const before = { peak: await peakRssBytes(serve.pid), applied: await applied() };
    const health = sampleHealth(serve.url);
    const answers = await Promise.all(
      Array.from({ length: 6 }, () => fetch(`${serve.url}/webhook`, { method: 'POST', headers: plausibleHeaders(2), body: Buffer.alloc(BODY_LIMIT - 1024, 0xff) }).then((response) => response.status, () => 'closed')),
    );
    const { maxMs } = await health.stop();
    const peak = await peakRssBytes(serve.pid);
    report('6 concurrent unsigned 4 MiB bodies', { 'peak growth MiB': Math.round((peak - before.peak) / MiB), 'slowest /healthz ms': maxMs });
    // Those that fit the budget are read and refused 401; the others 503 (or closed before their body was read).
    for (const answer of answers) expect([401, 503, 'closed']).toContain(answer);
    expect(answers).toContain(401);
    expect(await applied()).toEqual(before.applied);
  });

  it('matches content-type case-insensitively: APPLICATION/JOSE is v2', async () => {
    await expectSignedBatchApplies('APPLICATION/JOSE');
    await expectSignedBatchApplies('application/jose; charset=us-ascii');
  });
});
