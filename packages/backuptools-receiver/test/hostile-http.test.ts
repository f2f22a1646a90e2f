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
/** A second connection, for looking while `db` holds a lock. */
let monitor: BackupDb;

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
  ({ db: monitor } = createBackupDb(databaseUrl, 1, createLogger({ name: 'hostile-test-monitor', level: 'silent' })));
});

afterAll(async () => {
  await serve?.stop();
  await db?.destroy();
  await monitor?.destroy();
  await rm(dir, { recursive: true, force: true });
});

/** What the backup holds: nothing a hostile request sent may ever show up here. */
async function applied(): Promise<{ watermarks: number; objects: number }> {
  const watermarks = await sql<{ n: number }>`SELECT count(*)::int AS n FROM ${sql.id(STATE_SCHEMA, 'watermarks')}`.execute(db);
  const table = await sql<{ n: number }>`SELECT count(*)::int AS n FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'satellite/0' AND c.relname = 'objects'`.execute(db);
  const objects = table.rows[0]!.n === 0 ? 0 : (await sql<{ n: number }>`SELECT count(*)::int AS n FROM "satellite/0".objects`.execute(db)).rows[0]!.n;
  return { watermarks: watermarks.rows[0]!.n, objects };
}

/** backuptools_receive_budget_held_bytes, from /metrics. */
async function budgetHeld(): Promise<number> {
  const text = await (await fetch(`${serve.url}/metrics`)).text();
  return Number(/^backuptools_receive_budget_held_bytes (\d+)$/m.exec(text)?.[1] ?? Number.NaN);
}

/** Receiver sessions waiting on a lock in the backup database. */
async function applyingBehindLock(): Promise<number> {
  const waiting = await sql<{ n: number }>`SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'`.execute(monitor);
  return waiting.rows[0]!.n;
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

/** How many requests the receiver has logged as rejected so far. */
function rejectedLines(): number {
  return serve.output().split('\n').filter((line) => line.includes('"request rejected"')).length;
}

function report(what: string, numbers: Record<string, number>): void {
  console.log(`[hostile-http] ${what}: ${Object.entries(numbers).map(([key, value]) => `${key} ${value}`).join(', ')}`);
}

describe('the receiver under hostile input (a real serve process)', () => {
  it('a refusal before the body reaches a peer that is still uploading and not reading yet, and reads nothing more', async () => {
    // 413 from the headers while the body is on its way: Node would close the socket with body
    // bytes unread, and a close with unread bytes is a TCP reset; the peer's pending write then
    // fails and its socket is torn down before it read the answer. The peer reads only once the
    // receiver has logged the refusal. Behind the body, a pipelined request: it must never reach
    // the receiver (the socket reads nothing after the answer): it would be refused (415) and logged.
    const rejectedBefore = rejectedLines();
    const request = rawRequest(serve.port, { ...plausibleHeaders(), 'content-length': String(BODY_LIMIT + 1) });
    request.socket.pause();
    request.socket.write(Buffer.concat([Buffer.alloc(BODY_LIMIT + 1, 0xff), Buffer.from('POST /webhook HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-length: 0\r\n\r\n')]));
    await waitFor(() => rejectedLines() > rejectedBefore, { description: 'the receiver to log the refusal' });
    request.socket.resume();
    await request.closed;
    expect(request.status(), `received: ${JSON.stringify(request.received().slice(0, 200))}`).toBe(413);
    expect(request.received()).toMatch(/connection: close/i);
    expect(request.received().match(/HTTP\/1\.1 /g)).toHaveLength(1);
    expect(rejectedLines()).toBe(rejectedBefore + 1);
  });

  it('stalled uploads: the receive budget holds the bytes that arrived, refuses the rest mid-body (503), and request-timeout closes the held ones', async () => {
    const before = { rss: await rssBytes(serve.pid), peak: await peakRssBytes(serve.pid), fds: await openConnections(), applied: await applied() };
    const health = sampleHealth(serve.url);
    // 24 peers each declare the body limit and send all but its last 100 bytes, then stall:
    // holding them all would be 96 MiB of bodies; the budget holds 8 MiB of them.
    const requests = Array.from({ length: 24 }, (_, index) => rawRequest(serve.port, { ...plausibleHeaders(), 'content-length': String(BODY_LIMIT) }, { from: `127.0.0.${10 + index}` }));
    for (const request of requests) request.socket.write(Buffer.alloc(BODY_LIMIT - 100, 0xff));
    await waitFor(() => requests.every((request) => request.isClosed()), { description: () => `every connection answered and closed (statuses: ${requests.map((request) => request.status() ?? '-').join(' ')})`, timeoutMs: 30_000 });
    const refused = requests.filter((request) => request.status() === 503);
    // At most two bodies fit in 8 MiB; the others were answered as soon as a chunk did not fit.
    expect(refused.length).toBeGreaterThanOrEqual(22);
    for (const request of refused) expect(request.received()).toMatch(/retry-after: \d+/i);
    for (const request of requests) expect([503, 408]).toContain(request.status());
    const peak = await peakRssBytes(serve.pid);
    const { maxMs } = await health.stop();
    report('24 stalled 4 MiB uploads', { 'rss before MiB': Math.round(before.rss / MiB), 'peak growth MiB': Math.round((peak - before.peak) / MiB), 'slowest /healthz ms': maxMs });
    // The budget's 8 MiB plus buffers: far below the 96 MiB sent.
    expect(peak - before.peak).toBeLessThan(48 * MiB);
    await waitFor(async () => (await openConnections()) <= before.fds + 2 || undefined, { description: 'the connections to be gone from the process', timeoutMs: 20_000 });
    expect(await budgetHeld()).toBe(0);
    expect(await applied()).toEqual(before.applied);
    await expectSignedBatchApplies();
  });

  it('two slow uploads that declare the body limit each do not keep an honest batch out: it is applied while they trickle', async () => {
    const before = await applied();
    // Together they declare the whole budget (2 × 4 MiB), from two peers.
    const slow = ['127.0.0.2', '127.0.0.3'].map((from) => rawRequest(serve.port, { ...plausibleHeaders(), 'content-length': String(BODY_LIMIT) }, { from }));
    const trickle = setInterval(() => {
      for (const request of slow) if (!request.isClosed()) request.socket.write('x'.repeat(100));
    }, 100);
    try {
      // Both are past the headers and being read.
      await waitFor(async () => (await budgetHeld()) >= 200 || undefined, { description: 'the slow uploads to hold bytes of the budget', timeoutMs: 20_000 });
      await expectSignedBatchApplies();
      expect(slow.map((request) => request.status())).toEqual([undefined, undefined]);
    } finally {
      clearInterval(trickle);
      for (const request of slow) request.socket.destroy();
    }
    expect((await applied()).objects).toBe(before.objects + 1);
  });

  it('one peer holds at most its share (half the budget): its next upload gets 503 (no budget numbers in the answer), another peer gets through', async () => {
    const before = await applied();
    const staller = rawRequest(serve.port, { ...plausibleHeaders(), 'content-length': String(BODY_LIMIT) }, { from: '127.0.0.4' });
    staller.socket.write(Buffer.alloc(BODY_LIMIT - 100, 0xff));
    try {
      await waitFor(async () => (await budgetHeld()) >= BODY_LIMIT - 100 || undefined, { description: 'the staller to hold its whole body', timeoutMs: 20_000 });
      const next = rawRequest(serve.port, { ...plausibleHeaders(), 'content-length': String(MiB) }, { from: '127.0.0.4' });
      await waitFor(() => next.isClosed(), { description: () => `an answer and a close (got: ${next.received().slice(0, 300)})`, timeoutMs: 20_000 });
      expect(next.status()).toBe(503);
      const answer = next.received().slice(next.received().indexOf('\r\n\r\n') + 4);
      expect(JSON.parse(answer)).toMatchObject({ error: 'RECEIVER_BUSY' });
      // How much is held, and the limits, go to the log only.
      expect(answer).not.toMatch(/\d{4,}/);
      await waitFor(() => new RegExp(`"code":"RECEIVER_BUSY"[^\\n]*"budgetLimitBytes":${BUDGET}`).test(serve.output()) || undefined, { description: 'the log line with the numbers', timeoutMs: 10_000 });
      expect(staller.status()).toBeUndefined();
      await expectSignedBatchApplies();
    } finally {
      staller.socket.destroy();
    }
    expect((await applied()).objects).toBe(before.objects + 1);
  });

  it('an authenticated request gives its bytes back before it is applied: batches waiting on the database leave the budget to others', async () => {
    await expectSignedBatchApplies();
    const before = await applied();
    // Two signed batches of ~3.4 MiB each (two sources), held in apply by a lock on the table.
    const big = await Promise.all(['storx-big-1', 'storx-big-2'].map((sourceId, index) => signedRequest(batchOf([OBJECTS], [{ operation: 'INSERT', data: objectRow(2_000_000_000 + index, { metadata: JSON.stringify({ pad: 'x'.repeat(2.5 * MiB) }) }), old_data: null, unchanged_toast: [] }], { sourceId }), keys)));
    let unlock!: () => void;
    const unlocked = new Promise<void>((resolve) => (unlock = resolve));
    let locked!: () => void;
    const lockHeld = new Promise<void>((resolve) => (locked = resolve));
    const holder = db.transaction().execute(async (trx) => {
      await sql`LOCK TABLE "satellite/0".objects IN SHARE MODE`.execute(trx);
      locked();
      await unlocked;
    });
    try {
      await lockHeld;
      const answers: Promise<Response>[] = [];
      for (const [index, request] of big.entries()) {
        answers.push(fetch(`${serve.url}/webhook`, { method: 'POST', headers: request.headers, body: request.payload }));
        await waitFor(async () => (await applyingBehindLock()) >= index + 1 || undefined, { description: `batch ${index + 1} to wait on the lock`, timeoutMs: 30_000 });
      }
      expect(await budgetHeld()).toBe(0);
      // An unauthenticated upload of nearly the body limit is read (and refused 401), not 503.
      const probe = await fetch(`${serve.url}/webhook`, { method: 'POST', headers: plausibleHeaders(), body: Buffer.alloc(BODY_LIMIT - 1024, 0xff) });
      expect(probe.status).toBe(401);
      unlock();
      for (const answer of answers) expect(await (await answer).json()).toMatchObject({ status: 'applied' });
    } finally {
      unlock();
      await holder;
    }
    expect((await applied()).objects).toBe(before.objects + 2);
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

  it('bodies that can never authenticate (4 MiB of 0xFF, two random v1a or v1d signatures, as v2 or v3) cost little: 401 each, /healthz keeps answering', async () => {
    const before = { peak: await peakRssBytes(serve.pid), applied: await applied() };
    const health = sampleHealth(serve.url);
    const answers: (number | undefined)[] = [];
    // Six peers, two at a time: two bodies of the largest size fit the budget together.
    for (let round = 0; round < 3; round += 1) {
      const requests = [0, 1].map((index) => rawRequest(serve.port, { ...plausibleHeaders(2, index === 0 ? 'v1a' : 'v1d'), 'content-length': String(BODY_LIMIT - 1024) }, { from: `127.0.1.${round * 2 + index + 1}` }));
      for (const request of requests) request.socket.write(Buffer.alloc(BODY_LIMIT - 1024, 0xff));
      await waitFor(() => requests.every((request) => request.isClosed() || request.status() !== undefined), { description: 'both answered', timeoutMs: 30_000 });
      for (const request of requests) request.socket.destroy();
      answers.push(...requests.map((request) => request.status()));
    }
    const { maxMs } = await health.stop();
    const peak = await peakRssBytes(serve.pid);
    report('6 unsigned 4 MiB bodies, two at a time', { 'peak growth MiB': Math.round((peak - before.peak) / MiB), 'slowest /healthz ms': maxMs });
    expect(answers).toEqual([401, 401, 401, 401, 401, 401]);
    expect(await applied()).toEqual(before.applied);
  });

  it('a large signed batch (7,000 events, parsed in slices) is applied whole while /healthz keeps answering', async () => {
    const before = await applied();
    const first = 3_000_000_000;
    const batch = batchOf([OBJECTS], Array.from({ length: 7_000 }, (_, index) => ({ operation: 'INSERT' as const, data: objectRow(first + index), old_data: null, unchanged_toast: [] })));
    const request = await signedRequest(batch, keys);
    // Over four slices (2 MiB) of plaintext: the receiver parses it in pieces.
    expect(request.payload.length).toBeGreaterThan(3 * MiB);
    const health = sampleHealth(serve.url);
    const response = await fetch(`${serve.url}/webhook`, { method: 'POST', headers: request.headers, body: request.payload });
    const { maxMs, samples } = await health.stop();
    report('one signed batch of 7,000 events', { 'body KiB': Math.round(request.payload.length / 1024), 'slowest /healthz ms': maxMs, '/healthz answers': samples });
    expect(response.status, await response.clone().text()).toBe(200);
    expect(await response.json()).toMatchObject({ status: 'applied' });
    expect((await applied()).objects).toBe(before.objects + 7_000);
    const keysApplied = await sql<{ low: string; high: string }>`SELECT min(total_size)::text AS low, max(total_size)::text AS high FROM "satellite/0".objects WHERE total_size >= ${first}`.execute(db);
    expect(keysApplied.rows[0]).toEqual({ low: `${first}.0123456789`, high: `${first + 6_999}.0123456789` });
  });

  it('matches content-type case-insensitively: APPLICATION/JOSE is v2', async () => {
    await expectSignedBatchApplies('APPLICATION/JOSE');
    await expectSignedBatchApplies('application/jose; charset=us-ascii');
  });
});
