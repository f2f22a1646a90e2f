// The receiver refuses a stream from another PostgreSQL system or from a forked timeline, with
// nothing applied, even when the batch's LSN says "duplicate" or "next".
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from 'kysely';
import type { Batch, SourceOrigin } from '@storx-backup/protocol';
import { batchOf, OBJECTS, objectRow, signedRequest, STATE_SCHEMA, tableText, type TestReceiver, testReceiver } from './support.js';

const SYSTEM = '7400000000000000001';
const origin = (timeline: number, history: [number, string][] = [], system = SYSTEM): SourceOrigin => ({ system_id: system, timeline, history: history.map(([tl, end]) => ({ timeline: tl, end_lsn: end })) });

let receiver: TestReceiver;
beforeAll(async () => {
  receiver = await testReceiver();
});
afterAll(async () => {
  await receiver.close();
});

const withOrigin = (batch: Batch, from: SourceOrigin | undefined): Batch => (from === undefined ? batch : { ...batch, origin: from });
const insert = (index: number, commitLsn: string, from: SourceOrigin | undefined, sourceId: string): Batch =>
  withOrigin(batchOf([OBJECTS], [{ operation: 'INSERT', data: objectRow(index), old_data: null, unchanged_toast: [] }], { commitLsn, sourceId }), from);

async function send(batch: Batch): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await receiver.app.inject(await signedRequest(batch, receiver.keys));
  return { status: response.statusCode, body: response.json() };
}

async function state(sourceId: string): Promise<unknown[]> {
  const { rows } = await sql`SELECT commit_lsn::text, events_applied::text, source_system_id, source_timeline::text FROM ${sql.id(STATE_SCHEMA, 'watermarks')} WHERE source_id = ${sourceId}`.execute(receiver.db);
  return [rows, await tableText(receiver.db, 'satellite/0', 'objects')];
}

/** Sends `batch`, expects a 409 with `code`, and that neither rows nor the watermark changed. */
async function expectRefused(batch: Batch, code: string): Promise<void> {
  const before = await state(batch.source_id);
  const { status, body } = await send(batch);
  expect(status).toBe(409);
  expect(body['error']).toBe(code);
  expect(await state(batch.source_id)).toEqual(before);
}

describe('the source lineage recorded with the watermark', () => {
  it('follows a promotion that forked after the watermark, and records the new timeline', async () => {
    expect((await send(insert(1, '0/5000000', origin(1), 'lineage-a'))).status).toBe(200);
    // The promoted standby streams again from its synced slot: first a duplicate, then new WAL.
    expect((await send(insert(1, '0/5000000', origin(2, [[1, '0/5000100']]), 'lineage-a'))).body['status']).toBe('duplicate');
    expect((await send(insert(2, '0/5000200', origin(2, [[1, '0/5000100']]), 'lineage-a'))).body['status']).toBe('applied');
    const { rows } = await sql<{ source_timeline: string }>`SELECT source_timeline::text FROM ${sql.id(STATE_SCHEMA, 'watermarks')} WHERE source_id = 'lineage-a'`.execute(receiver.db);
    expect(rows[0]!.source_timeline).toBe('2');
  });

  it('refuses the old primary on its own timeline, even for a batch the LSN comparison would call a duplicate', async () => {
    await expectRefused(insert(3, '0/5000000', origin(1), 'lineage-a'), 'SOURCE_TIMELINE_FORKED');
    await expectRefused(insert(3, '0/7000000', origin(1), 'lineage-a'), 'SOURCE_TIMELINE_FORKED');
  });

  it('refuses a standby promoted before it received what the backup holds', async () => {
    expect((await send(insert(10, '0/9000000', origin(1), 'lineage-b'))).status).toBe(200);
    await expectRefused(insert(11, '0/9000100', origin(2, [[1, '0/8FFFF00']]), 'lineage-b'), 'SOURCE_TIMELINE_FORKED');
  });

  it('refuses another system, and a batch without an origin once one is recorded', async () => {
    await expectRefused(insert(20, '0/9000200', origin(1, [], '7400000000000000002'), 'lineage-b'), 'SOURCE_SYSTEM_MISMATCH');
    await expectRefused(insert(21, '0/9000300', undefined, 'lineage-b'), 'SOURCE_SYSTEM_MISMATCH');
  });

  it('answers a ping with the recorded origin', async () => {
    const ping: Batch = { version: 2, source_id: 'lineage-a', slot: 'backuptools_slot', commit_lsn: '0/0', chunk: { index: 0, last: true }, relations: [], events: [] };
    const { body } = await send(ping);
    expect(body['origin']).toEqual({ system_id: SYSTEM, timeline: 2 });
  });
});
