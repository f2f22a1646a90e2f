// Which watermark is on disk, from the WAL positions read after each asynchronous commit (pure logic).
import { describe, expect, it } from 'vitest';
import type { Lsn } from '@storx-backup/protocol';
import { DurablePositions } from '../src/apply/durable-positions.js';
import type { Watermark } from '../src/apply/watermark.js';

const at = (commit: number, chunkLast = true, eventSeq?: number): Watermark => ({ commitLsn: BigInt(commit) as Lsn, chunkIndex: 0, chunkLast, eventSeq });
const wal = (insert: number, flush: number, serverStart = 'start-1') => ({ insertLsn: BigInt(insert) as Lsn, flushLsn: BigInt(flush) as Lsn, serverStart });

describe('DurablePositions', () => {
  it('reports a watermark durable once the flush position reaches the insert position read after its commit', () => {
    const positions = new DurablePositions();
    expect(positions.committed('s', 'slot', at(100), wal(1000, 900))).toBeUndefined();
    expect(positions.committed('s', 'slot', at(200), wal(1100, 999))).toBeUndefined();
    // The second commit's read settles the first: its bound (1000) is flushed now.
    expect(positions.committed('s', 'slot', at(300), wal(1200, 1050))).toEqual(at(100));
    expect(positions.committed('s', 'slot', at(300), wal(1300, 1300))).toEqual(at(300));
    expect(positions.durable('s', 'slot')).toEqual(at(300));
    expect(positions.durable('s', 'other')).toBeUndefined();
  });

  it('forgets what was not flushed when the server restarted; the new server\'s flush position never promotes it', () => {
    const positions = new DurablePositions();
    positions.committed('s', 'slot', at(100), wal(1000, 1000));
    positions.committed('s', 'slot', at(200), wal(5000, 1000));
    const lost: Watermark[] = [];
    // Restarted: its WAL went on from the last flushed position and is past 5000 now, without commit 200.
    expect(positions.committed('s', 'slot', at(100), wal(6000, 6000, 'start-2'), (_source, _slot, latest) => lost.push(latest))).toEqual(at(100));
    expect(lost).toEqual([at(200)]);
    expect(positions.durable('s', 'slot')).toEqual(at(100));
  });

  it('orders chunks of one transaction by change, keeps lineages apart, merges a long unflushed list conservatively', () => {
    const positions = new DurablePositions();
    positions.committed('s', 'slot', at(100, false, 5), wal(1000, 1000));
    positions.committed('s', 'slot', at(100, false, 3), wal(1001, 1001));
    expect(positions.durable('s', 'slot')).toEqual(at(100, false, 5));
    positions.flushed('t', 'slot', at(50));
    expect(positions.durable('t', 'slot')).toEqual(at(50));
    for (let i = 1; i <= 1100; i += 1) positions.committed('s', 'slot', at(100 + i), wal(2000 + i, 1500));
    expect(positions.durable('s', 'slot')).toEqual(at(100, false, 5));
    // Merged into one entry bound by the largest insert position: durable only once that is flushed.
    positions.committed('s', 'slot', at(1300), wal(3200, 3099));
    expect(positions.durable('s', 'slot')!.commitLsn).toBeLessThan(1300n);
    positions.committed('s', 'slot', at(1300), wal(3300, 3300));
    expect(positions.durable('s', 'slot')).toEqual(at(1300));
  });
});
