// Round trips to the backup PostgreSQL per stream batch: each costs ~0.5-0.8 ms under load, and
// a trickle of one-row source transactions pays them per batch (docs/benchmark.md). Counted by
// observing every query the receiver's pool clients send (the database stays real), on a warm
// receiver: the table exists and is cached from an earlier batch.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from 'kysely';
import type pg from 'pg';
import type { Batch } from '@storx-backup/protocol';
import { waitFor } from '@storx-backup/test-postgres';
import { batchOf, OBJECTS, objectRow, signedRequest, STATE_SCHEMA, type TestReceiver, testReceiver } from './support.js';

let receiver: TestReceiver;
/** Texts sent while `counting`, one per round trip (a multi-statement text is one). */
const sent: string[] = [];
let counting = false;

/** Wraps each client's `query` once, as the pool hands it out (Kysely and the applier both check clients out). */
function observe(pool: pg.Pool): void {
  const connect = pool.connect.bind(pool) as () => Promise<pg.PoolClient>;
  const wrapped = new WeakSet<pg.PoolClient>();
  pool.connect = (async () => {
    const client = await connect();
    if (!wrapped.has(client)) {
      wrapped.add(client);
      const query = client.query.bind(client) as (...args: unknown[]) => unknown;
      client.query = ((...args: unknown[]) => {
        if (counting) sent.push(typeof args[0] === 'string' ? args[0] : String((args[0] as { text?: string }).text ?? 'COPY'));
        return query(...args);
      }) as typeof client.query;
    }
    return client;
  }) as typeof pool.connect;
}

beforeAll(async () => {
  receiver = await testReceiver();
  observe(receiver.pool);
});
afterAll(async () => {
  await receiver?.close();
});

async function roundTrips(batch: Batch): Promise<string[]> {
  sent.length = 0;
  counting = true;
  try {
    const response = await receiver.app.inject(await signedRequest(batch, receiver.keys));
    expect(response.statusCode, response.body).toBe(200);
    expect(response.json<{ status: string }>().status).toBe('applied');
  } finally {
    counting = false;
  }
  return [...sent];
}

type Event = Parameters<typeof batchOf>[1][number];

const row = objectRow(2);
const KEY = { project_id: row.project_id!, object_key: row.object_key!, version: row.version! };

describe.each([
  ['synchronous', undefined],
  ['durable', 'durable'],
] as const)('round trips of a one-row batch on a warm receiver (commit %s)', (_name, acknowledges) => {
  const sourceId = `round-trips-${_name}`;
  const batch = (event: Event): Batch => ({ ...batchOf([OBJECTS], [event], { sourceId }), ...(acknowledges ? { acknowledges } : {}) });

  beforeAll(async () => {
    // Warm: the table is created and cached, the watermark row exists.
    await roundTrips(batch({ operation: 'INSERT', data: objectRow(1), old_data: null, unchanged_toast: [] }));
  });

  // BEGIN with the watermark lock and the copy states; the row's statement; the watermark's move with the COMMIT.
  const events: [string, Event][] = [
    ['INSERT', { operation: 'INSERT', data: row, old_data: null, unchanged_toast: [] }],
    ['UPDATE', { operation: 'UPDATE', data: { ...row, total_size: '9.5' }, old_data: null, unchanged_toast: [] }],
    ['DELETE', { operation: 'DELETE', data: null, old_data: KEY, unchanged_toast: [] }],
  ];
  it.each(events)('%s', async (_operation, event) => {
    const texts = await roundTrips(batch(event));
    expect(texts, texts.join('\n---\n')).toHaveLength(ROUND_TRIPS);
  });
});

const ROUND_TRIPS = 3;

describe('the copy states sent with BEGIN', () => {
  it('are read once the watermark lock is held: a copy chunk committed during the wait counts', async () => {
    const sourceId = 'round-trips-copy-race';
    const stream = (index: number): Batch => batchOf([OBJECTS], [{ operation: 'INSERT', data: objectRow(index), old_data: null, unchanged_toast: [] }], { sourceId });
    expect((await receiver.app.inject(await signedRequest(stream(10), receiver.keys))).statusCode).toBe(200);
    // A copy chunk 0 of `objects` in another process: the watermark row lock, then its state.
    const other = await receiver.pool.connect();
    try {
      await other.query('BEGIN');
      await other.query(`SELECT 1 FROM ${STATE_SCHEMA}.watermarks WHERE source_id = $1 FOR UPDATE`, [sourceId]);
      await other.query(`INSERT INTO ${STATE_SCHEMA}.table_copies (source_id, slot, schema_name, table_name, image_lsn, next_chunk, done) VALUES ($1, 'backuptools_slot', 'satellite/0', 'objects', '0/1', 1, false)`, [sourceId]);
      // A change committed after the copy's image, while the copy runs: it must wait for the copy.
      const request = await signedRequest(stream(11), receiver.keys);
      // then(): light-my-request sends the request only once it is awaited.
      const answer = receiver.app.inject(request).then((response) => response);
      // Asked outside `other`'s transaction, whose view of pg_stat_activity stays as first read.
      const waiting = async (): Promise<boolean> => (await sql<{ n: number }>`SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock' AND query LIKE '%FOR UPDATE%'`.execute(receiver.db)).rows[0]!.n === 1;
      await waitFor(waiting, { description: 'the batch waiting for the watermark row lock' });
      await other.query('COMMIT');
      const response = await answer;
      expect(response.statusCode, response.body).toBe(409);
      expect(response.json<{ error: string }>().error).toBe('TABLE_COPY_IN_PROGRESS');
    } finally {
      other.release();
    }
  });
});

describe('a failure in the round trip of BEGIN or COMMIT', () => {
  const sourceId = 'round-trips-failures';
  const stream = (index: number, timestamp?: string): Batch => {
    const batch = batchOf([OBJECTS], [{ operation: 'INSERT', data: objectRow(index), old_data: null, unchanged_toast: [] }], { sourceId });
    return timestamp === undefined ? batch : { ...batch, events: batch.events.map((event) => ({ ...event, timestamp })) };
  };
  const post = async (batch: Batch): Promise<{ status: number; error?: string }> => {
    const response = await receiver.app.inject(await signedRequest(batch, receiver.keys));
    return { status: response.statusCode, error: response.json<{ error?: string }>().error };
  };
  const rows = async (): Promise<number> => (await sql<{ n: number }>`SELECT count(*)::int AS n FROM "satellite/0".objects WHERE object_key IN ('\\x00000014'::bytea, '\\x00000015'::bytea, '\\x00000016'::bytea)`.execute(receiver.db)).rows[0]!.n;

  it('refuses the batch with nothing applied, and leaves every connection usable', async () => {
    // The watermark's move (sent with COMMIT) cannot read the source commit time: rolled back.
    expect(await post(stream(20, 'not a time'))).toMatchObject({ status: 422, error: 'APPLY_REJECTED' });
    expect(await rows()).toBe(0);
    // The statements sent with BEGIN fail (the state table is gone): rolled back, not left open.
    await sql`ALTER TABLE ${sql.id(STATE_SCHEMA, 'table_copies')} RENAME TO table_copies_away`.execute(receiver.db);
    try {
      for (let attempt = 0; attempt < 5; attempt += 1) expect((await post(stream(21))).status).toBeGreaterThanOrEqual(400);
    } finally {
      await sql`ALTER TABLE ${sql.id(STATE_SCHEMA, 'table_copies_away')} RENAME TO table_copies`.execute(receiver.db);
    }
    expect(await rows()).toBe(0);
    for (const index of [20, 21, 22]) expect(await post(stream(index))).toMatchObject({ status: 200 });
    expect(await rows()).toBe(3);
  });
});

describe('connections', () => {
  it('a batch after the pool was idle longer than pg\'s default idle timeout (10 s) opens no new connection', async () => {
    await roundTrips(batchOf([OBJECTS], [{ operation: 'INSERT', data: objectRow(900), old_data: null, unchanged_toast: [] }], { sourceId: 'idle-pool' }));
    let opened = 0;
    const onConnect = (): void => void (opened += 1);
    receiver.pool.on('connect', onConnect);
    try {
      await new Promise((resolve) => setTimeout(resolve, 10_500));
      expect(receiver.pool.totalCount).toBeGreaterThan(0);
      await roundTrips(batchOf([OBJECTS], [{ operation: 'INSERT', data: objectRow(901), old_data: null, unchanged_toast: [] }], { sourceId: 'idle-pool' }));
      expect(opened).toBe(0);
    } finally {
      receiver.pool.off('connect', onConnect);
    }
  }, 30_000);
});
