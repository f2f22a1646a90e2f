// Table copies (initial snapshot, snapshot, resync) on a real backup database: chunk 0 empties
// the table, chunks apply once and in order, a newer copy supersedes an older one, stream
// changes that committed before the copy's snapshot are skipped, and one that would be
// overwritten by a copy still running is refused, changing nothing.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Batch } from '@storx-backup/protocol';
import { parseLsn } from '@storx-backup/protocol';
import { copyPredecessorApplied, placeCopyChunk, streamChangeVersusCopy } from '../src/apply/table-copy.js';
import { batchOf, nextLsn, OBJECTS, objectRow, signedRequest, tableText, type TestReceiver, testReceiver } from './support.js';

let receiver: TestReceiver;
beforeAll(async () => {
  receiver = await testReceiver();
});
afterAll(async () => {
  await receiver.close();
});

function copyChunk(imageLsn: string, index: number, last: boolean, rows: number[], sourceId = 'copy-test'): Batch {
  const batch = batchOf([OBJECTS], rows.map((row) => ({ operation: 'INSERT' as const, data: objectRow(row), old_data: null, unchanged_toast: [] })), { sourceId, commitLsn: imageLsn });
  return { ...batch, snapshot: { schema: OBJECTS.schema, table: OBJECTS.table, image_lsn: imageLsn, index, last } };
}

async function post(batch: Batch): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await receiver.app.inject(await signedRequest(batch, receiver.keys));
  return { status: response.statusCode, body: response.json() };
}

const keysOf = async (): Promise<number> => (await tableText(receiver.db, 'satellite/0', 'objects')).length;

describe('table copy placement', () => {
  const state = { schema: 's', table: 't', imageLsn: 100n as never, nextChunk: 2, done: false, rowsCopied: 10n };
  it('starts, continues, ignores repeats and superseded copies, refuses holes', () => {
    expect(placeCopyChunk(undefined, { imageLsn: parseLsn('0/64'), index: 0 })).toEqual({ kind: 'start' });
    expect(placeCopyChunk(undefined, { imageLsn: parseLsn('0/64'), index: 1 }).kind).toBe('gap');
    expect(placeCopyChunk(state, { imageLsn: parseLsn('0/64'), index: 2 })).toEqual({ kind: 'next' });
    expect(placeCopyChunk(state, { imageLsn: parseLsn('0/64'), index: 1 })).toEqual({ kind: 'duplicate' });
    expect(placeCopyChunk(state, { imageLsn: parseLsn('0/64'), index: 3 }).kind).toBe('gap');
    expect(placeCopyChunk(state, { imageLsn: parseLsn('0/10'), index: 0 })).toEqual({ kind: 'duplicate' });
    expect(placeCopyChunk(state, { imageLsn: parseLsn('0/C8'), index: 0 })).toEqual({ kind: 'start' });
  });
  it('lets a chunk sent ahead go once the chunk before it is applied, or once it cannot apply anyway', () => {
    expect(copyPredecessorApplied(undefined, { imageLsn: parseLsn('0/64'), index: 1 })).toBe(false);
    expect(copyPredecessorApplied(state, { imageLsn: parseLsn('0/64'), index: 2 })).toBe(true);
    expect(copyPredecessorApplied(state, { imageLsn: parseLsn('0/64'), index: 3 })).toBe(false);
    // A newer copy whose chunk 0 has not arrived yet: wait; an older copy's chunk: a duplicate now.
    expect(copyPredecessorApplied(state, { imageLsn: parseLsn('0/C8'), index: 1 })).toBe(false);
    expect(copyPredecessorApplied(state, { imageLsn: parseLsn('0/10'), index: 5 })).toBe(true);
    expect(copyPredecessorApplied({ ...state, done: true }, { imageLsn: parseLsn('0/64'), index: 7 })).toBe(true);
  });
  it('skips stream changes older than the copy, holds newer ones while it runs', () => {
    expect(streamChangeVersusCopy(state, parseLsn('0/63'))).toBe('skip');
    expect(streamChangeVersusCopy(state, parseLsn('0/64'))).toBe('wait');
    expect(streamChangeVersusCopy({ ...state, done: true }, parseLsn('0/64'))).toBe('apply');
    expect(streamChangeVersusCopy(undefined, parseLsn('0/1'))).toBe('apply');
  });
});

describe('table copies on the backup', () => {
  it('empties the table at chunk 0, applies chunks once and in order, and reports copies in the ping', async () => {
    // Something already in the backup table that the source no longer has: the copy removes it.
    expect((await post(batchOf([OBJECTS], [{ operation: 'INSERT', data: objectRow(999), old_data: null, unchanged_toast: [] }], { sourceId: 'copy-test' }))).status).toBe(200);
    const image = nextLsn();
    expect(await post(copyChunk(image, 0, false, [1, 2]))).toMatchObject({ status: 200, body: { status: 'applied' } });
    expect(await keysOf()).toBe(2);
    expect(await post(copyChunk(image, 0, false, [1, 2]))).toMatchObject({ status: 200, body: { status: 'duplicate' } });
    expect(await post(copyChunk(image, 2, true, [5]))).toMatchObject({ status: 409, body: { error: 'CHUNK_OUT_OF_ORDER' } });
    expect(await keysOf()).toBe(2);

    // While the copy runs, a stream change committed after its snapshot would be overwritten: refused.
    const later = batchOf([OBJECTS], [{ operation: 'INSERT', data: objectRow(50), old_data: null, unchanged_toast: [] }], { sourceId: 'copy-test' });
    expect(await post(later)).toMatchObject({ status: 409, body: { error: 'TABLE_COPY_IN_PROGRESS' } });
    expect(await keysOf()).toBe(2);

    expect(await post(copyChunk(image, 1, true, [3, 4]))).toMatchObject({ status: 200, body: { status: 'applied' } });
    expect(await keysOf()).toBe(4);
    expect(await post(later)).toMatchObject({ status: 200, body: { status: 'applied' } });
    expect(await keysOf()).toBe(5);

    const ping = await post({ ...batchOf([OBJECTS], [], { sourceId: 'copy-test' }), relations: [] });
    expect(ping.body).toMatchObject({ status: 'ping', table_copies: [{ schema: 'satellite/0', table: 'objects', image_lsn: image, done: true, rows_copied: '4' }] });
  });

  it('holds chunks sent ahead (follows) until the chunk before each is applied, then applies them in order', async () => {
    const sourceId = 'copy-ahead';
    const image = nextLsn();
    const ahead = (index: number, last: boolean, rows: number[]): Batch => ({ ...copyChunk(image, index, last, rows, sourceId), follows: { commit_lsn: image, chunk_index: index - 1, chunk_last: false } });
    // The last two arrive first. Applied at once they would be refused (a hole), and had they
    // applied, chunk 0 (which empties the table) would remove their rows.
    const third = post(ahead(2, true, [7005, 7006]));
    const second = post(ahead(1, false, [7003, 7004]));
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(await post(copyChunk(image, 0, false, [7001, 7002], sourceId))).toMatchObject({ status: 200, body: { status: 'applied' } });
    expect(await second).toMatchObject({ status: 200, body: { status: 'applied' } });
    expect(await third).toMatchObject({ status: 200, body: { status: 'applied' } });
    expect(await keysOf()).toBe(6);
    const ping = await post({ ...batchOf([OBJECTS], [], { sourceId }), relations: [] });
    expect(ping.body).toMatchObject({ table_copies: [{ image_lsn: image, done: true, rows_copied: '6' }] });
    // `follows` on a copy chunk must name the chunk before it of the same copy.
    const wrong = { ...copyChunk(nextLsn(), 2, true, [1], sourceId), follows: { commit_lsn: image, chunk_index: 1, chunk_last: false } };
    expect(await post(wrong)).toMatchObject({ status: 422, body: { error: 'PAYLOAD_INVALID' } });
    expect(await keysOf()).toBe(6);
  });

  it('skips stream changes that committed before the copy, which already holds them', async () => {
    const before = nextLsn();
    const image = nextLsn();
    const after = nextLsn();
    expect(await post(copyChunk(image, 0, true, [1, 2, 3], 'copy-skip'))).toMatchObject({ status: 200, body: { status: 'applied' } });
    const deleteRow = (row: number, commitLsn: string): Batch =>
      batchOf([OBJECTS], [{ operation: 'DELETE', data: null, old_data: { project_id: objectRow(row)['project_id']!, object_key: objectRow(row)['object_key']!, version: '1' }, unchanged_toast: [] }], { sourceId: 'copy-skip', commitLsn });
    // Committed before the snapshot: the copy already reflects it (the row was inserted again
    // later in this story), so replaying it must change nothing, yet it counts as applied.
    expect(await post(deleteRow(1, before))).toMatchObject({ status: 200, body: { status: 'applied' } });
    expect(await keysOf()).toBe(3);
    expect(await post(deleteRow(2, after))).toMatchObject({ status: 200, body: { status: 'applied' } });
    expect(await keysOf()).toBe(2);
  });
});
