import { describe, expect, it } from 'vitest';
import type { Lsn } from '@storx-backup/protocol';
import { Batcher } from '../src/batch/batcher.js';
import { EncodedEvents } from '../src/batch/encoded-events.js';
import type { OutgoingBatch } from '../src/batch/outgoing-batch.js';
import type { TransactionPart } from '../src/decode/transaction-assembler.js';

const event = JSON.stringify({ operation: 'INSERT', schema: 's', table: 't', timestamp: 'x', lsn: '0/1', commit_lsn: '0/1', xid: 1, seq: 0, data: {}, old_data: null, unchanged_toast: [] });

function encoded(count: number): EncodedEvents {
  const events = new EncodedEvents();
  events.add(Buffer.from(`${event},`.repeat(count)), count);
  return events;
}

function part(commit: number, events: number, options: Partial<TransactionPart> = {}): TransactionPart {
  return {
    xid: commit,
    commitLsn: BigInt(commit) as Lsn,
    chunkIndex: 0,
    last: true,
    afterSeq: undefined,
    endLsn: BigInt(commit + 1) as Lsn,
    commitTimeMs: 0,
    events: encoded(events),
    relations: new Map(),
    bytes: events * 100,
    ...options,
  };
}

function collect(options: { maxEvents?: number; maxBytes?: number; lingerMs?: number } = {}): { batcher: Batcher; out: OutgoingBatch[] } {
  const out: OutgoingBatch[] = [];
  const batcher = new Batcher({ maxEvents: options.maxEvents ?? 10, maxBytes: options.maxBytes ?? 1_000_000, lingerMs: options.lingerMs ?? 60_000, emit: (batch) => out.push(batch) });
  return { batcher, out };
}

const shape = (batches: OutgoingBatch[]) => batches.map((batch) => ({ commit: Number(batch.commitLsn), ack: batch.ackLsn === undefined ? null : Number(batch.ackLsn), events: batch.events.count, chunk: batch.chunk }));

const relation = (relationId: number, columns: string[]) => ({ relationId, schema: 's', table: 't', replicaIdentity: 'd' as const, columns: columns.map((name) => ({ name, typeOid: 23, typeMod: -1, isKey: name === 'id' })) });

describe('batcher', () => {
  it('starts a new batch when a table is altered (same relation id) or dropped and created again (new id, same name)', () => {
    const { batcher, out } = collect();
    const first = relation(100, ['id', 'a']);
    batcher.add(part(10, 1, { relations: new Map([[100, first]]) }));
    batcher.add(part(20, 1, { relations: new Map([[100, first]]) })); // the same description: same batch
    batcher.add(part(30, 1, { relations: new Map([[100, relation(100, ['id', 'a', 'b'])]]) }));
    batcher.add(part(40, 1, { relations: new Map([[200, relation(200, ['id', 'c'])]]) }));
    batcher.flush();
    expect(shape(out).map((batch) => [batch.commit, batch.events])).toEqual([[20, 2], [30, 1], [40, 1]]);
    expect(out.map((batch) => [...batch.relations.keys()])).toEqual([[100], [100], [200]]);
  });

  it('puts whole transactions together until the event limit, acknowledging the last one', () => {
    const { batcher, out } = collect({ maxEvents: 10 });
    batcher.add(part(10, 4));
    batcher.add(part(20, 4));
    batcher.add(part(30, 4)); // would make 12: the first two go first
    batcher.flush();
    expect(shape(out)).toEqual([
      { commit: 20, ack: 21, events: 8, chunk: { index: 0, last: true } },
      { commit: 30, ack: 31, events: 4, chunk: { index: 0, last: true } },
    ]);
  });

  it('flushes on size too', () => {
    const { batcher, out } = collect({ maxBytes: 500 });
    batcher.add(part(10, 3));
    batcher.add(part(20, 3));
    expect(shape(out)).toEqual([{ commit: 10, ack: 11, events: 3, chunk: { index: 0, last: true } }]);
  });

  it('sends chunks alone, after what came before, and acknowledges only the last chunk', () => {
    const { batcher, out } = collect();
    batcher.add(part(10, 1));
    batcher.add(part(50, 5, { last: false, endLsn: undefined }));
    batcher.add(part(50, 5, { chunkIndex: 1, last: false, endLsn: undefined, afterSeq: 4 }));
    batcher.add(part(50, 2, { chunkIndex: 2, afterSeq: 9 }));
    batcher.add(part(60, 1));
    batcher.flush();
    expect(shape(out)).toEqual([
      { commit: 10, ack: 11, events: 1, chunk: { index: 0, last: true } },
      { commit: 50, ack: null, events: 5, chunk: { index: 0, last: false } },
      { commit: 50, ack: null, events: 5, chunk: { index: 1, last: false, after_seq: 4 } },
      { commit: 50, ack: 51, events: 2, chunk: { index: 2, last: true, after_seq: 9 } },
      { commit: 60, ack: 61, events: 1, chunk: { index: 0, last: true } },
    ]);
  });

  it('keeps empty (filtered) transactions in order so they are acknowledged after what precedes them', () => {
    const { batcher, out } = collect();
    batcher.add(part(10, 2));
    batcher.add(part(20, 0));
    batcher.flush();
    batcher.add(part(30, 0));
    batcher.flush();
    expect(shape(out)).toEqual([
      { commit: 20, ack: 21, events: 2, chunk: { index: 0, last: true } },
      { commit: 30, ack: 31, events: 0, chunk: { index: 0, last: true } },
    ]);
  });

  it('flushes after the linger time', async () => {
    const { batcher, out } = collect({ lingerMs: 20 });
    batcher.add(part(10, 1));
    expect(out).toHaveLength(0);
    await new Promise((resolve) => setTimeout(resolve, 60));
    expect(out).toHaveLength(1);
  });

  it('drops what was not handed on when discarded', () => {
    const { batcher, out } = collect();
    batcher.add(part(10, 1));
    batcher.discard();
    batcher.flush();
    expect(out).toHaveLength(0);
    expect(batcher.isEmpty).toBe(true);
  });
});

describe('batcher linger and the delivery window', () => {
  it('sends at once (after the current read) when the delivery window has room, and lingers while it is full', async () => {
    let room = true;
    const out: OutgoingBatch[] = [];
    const batcher = new Batcher({ maxEvents: 10, maxBytes: 1_000_000, lingerMs: 60_000, windowHasRoom: () => room, emit: (batch) => out.push(batch) });
    batcher.add(part(10, 1));
    batcher.add(part(20, 1)); // the same read: joins the batch
    expect(out).toHaveLength(0);
    await new Promise((resolve) => setImmediate(resolve));
    expect(shape(out)).toEqual([{ commit: 20, ack: 21, events: 2, chunk: { index: 0, last: true } }]);

    room = false;
    batcher.add(part(30, 1));
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(out, 'window full: the batch lingers to fill').toHaveLength(1);
    batcher.flush(); // what the session does once a delivery is done
    expect(shape(out).at(-1)).toEqual({ commit: 30, ack: 31, events: 1, chunk: { index: 0, last: true } });
  });
});
