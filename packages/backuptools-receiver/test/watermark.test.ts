import { describe, expect, it } from 'vitest';
import { type ChangeEvent, parseLsn } from '@storx-backup/protocol';
import { advancedWatermark, placeBatch, type Placement, type Watermark } from '../src/apply/watermark.js';

const at = (lsn: string, chunkIndex = 0, chunkLast = true, eventSeq?: number): Watermark => ({ commitLsn: parseLsn(lsn), chunkIndex, chunkLast, eventSeq });
const batch = (lsn: string, chunkIndex = 0, chunkLast = true) => ({ commitLsn: parseLsn(lsn), chunkIndex, chunkLast });
const empty: Watermark = { commitLsn: undefined, chunkIndex: 0, chunkLast: true, eventSeq: undefined };
/** Change number `seq` of the transaction committed at `commit`; all at one LSN, as the rows of a COPY are. */
const event = (commit: string, seq: number): ChangeEvent => ({ operation: 'TRUNCATE', schema: 's', table: 't', timestamp: 't', lsn: '0/1', commit_lsn: commit, xid: 1, seq, data: null, old_data: null, unchanged_toast: [] });
const kind = (placement: Placement): string => placement.kind;
const applied = (placement: Placement): string[] => (placement.kind === 'next' ? placement.events.map((e) => `${e.commit_lsn}#${e.seq}`) : []);

describe('placing a batch against the watermark', () => {
  it('applies the first batch, and any later whole transaction', () => {
    expect(kind(placeBatch(empty, batch('0/10'), [event('0/10', 0)]))).toBe('next');
    expect(kind(placeBatch(at('0/10'), batch('0/A0'), [event('0/A0', 0)]))).toBe('next');
  });

  it('compares LSNs as numbers, not text ("0/A0" is after "0/10"; "1/0" after "0/FFFFFFFF")', () => {
    expect(kind(placeBatch(at('0/10'), batch('0/A0'), []))).toBe('next');
    expect(kind(placeBatch(at('0/A0'), batch('0/10'), []))).toBe('duplicate');
    expect(kind(placeBatch(at('0/FFFFFFFF'), batch('1/0'), []))).toBe('next');
  });

  it('treats a batch at or below a complete watermark as a duplicate', () => {
    expect(kind(placeBatch(at('0/50'), batch('0/50'), [event('0/50', 0)]))).toBe('duplicate');
    expect(kind(placeBatch(at('0/50'), batch('0/40'), [event('0/40', 0)]))).toBe('duplicate');
    expect(kind(placeBatch(at('0/50', 2, true), batch('0/50', 1, false), []))).toBe('duplicate');
  });

  it('applies only the transactions after the watermark when a restarted sender groups them differently', () => {
    // [T1, T2] was applied; the ack was lost; the sender now sends [T1, T2, T3] as one batch.
    const placement = placeBatch(at('0/200', 0, true, 0), batch('0/300'), [event('0/100', 0), event('0/200', 0), event('0/300', 0)]);
    expect(applied(placement)).toEqual(['0/300#0']);
  });

  it('applies the chunks of a split transaction in order, each only once', () => {
    const chunk0 = [event('0/500', 0), event('0/500', 1)];
    expect(applied(placeBatch(at('0/10'), batch('0/500', 0, false), chunk0))).toHaveLength(2);
    const afterChunk0 = advancedWatermark(at('0/10'), batch('0/500', 0, false), chunk0);
    expect(afterChunk0).toEqual(at('0/500', 0, false, 1));
    expect(kind(placeBatch(afterChunk0, batch('0/500', 0, false), chunk0))).toBe('duplicate');
    expect(applied(placeBatch(afterChunk0, batch('0/500', 1, true), [event('0/500', 2)]))).toEqual(['0/500#2']);
  });

  it('finishes a split transaction the restarted sender re-chunked or sends whole, skipping what was applied', () => {
    const partly = at('0/500', 1, false, 1);
    // Whole this time (bigger max-batch-bytes), followed by the next transaction in the same batch.
    const whole = placeBatch(partly, batch('0/600'), [event('0/500', 0), event('0/500', 1), event('0/500', 2), event('0/600', 0)]);
    expect(applied(whole)).toEqual(['0/500#2', '0/600#0']);
    // Or re-chunked from index 0.
    expect(applied(placeBatch(partly, batch('0/500', 0, false), [event('0/500', 0), event('0/500', 1), event('0/500', 2)]))).toEqual(['0/500#2']);
  });

  it('keeps rows that share one LSN (a COPY) apart by seq across a chunk boundary', () => {
    const wm = advancedWatermark(at('0/10'), batch('0/500', 0, false), [event('0/500', 0), event('0/500', 1)]);
    expect(applied(placeBatch(wm, batch('0/500', 1, true), [event('0/500', 2), event('0/500', 3)]))).toEqual(['0/500#2', '0/500#3']);
  });

  it('refuses anything that would leave a hole, and says why', () => {
    expect(kind(placeBatch(at('0/10'), batch('0/50', 1, false), []))).toBe('gap');
    expect(kind(placeBatch(empty, batch('0/50', 3, true), []))).toBe('gap');
    const other = placeBatch(at('0/50', 1, false, 3), batch('0/90'), [event('0/90', 0)]);
    expect(other.kind === 'gap' && other.reason).toContain('the transaction at 0/50 is incomplete');
  });
});

describe('a chunk that skips its predecessors', () => {
  it('is refused when it is beyond the next chunk and carries nothing already applied', () => {
    // Chunk 0 applied (changes 0-1); chunk 5, the last, arrives: chunks 1-4 would be lost.
    const wm = advancedWatermark(at('0/10'), batch('0/9000', 0, false), [event('0/9000', 0), event('0/9000', 1)]);
    const skipped = placeBatch(wm, batch('0/9000', 5, true), [event('0/9000', 50), event('0/9000', 51)]);
    expect(skipped.kind).toBe('gap');
    expect(skipped.kind === 'gap' && skipped.reason).toContain('chunks 1-4 are missing');
    expect(kind(placeBatch(wm, batch('0/9000', 2, false), [event('0/9000', 2)]))).toBe('gap');
  });

  it('is applied when it overlaps what was applied (re-chunked by a restarted sender)', () => {
    const wm = advancedWatermark(at('0/10'), batch('0/9000', 0, false), [event('0/9000', 0), event('0/9000', 1)]);
    expect(applied(placeBatch(wm, batch('0/9000', 3, false), [event('0/9000', 1), event('0/9000', 2)]))).toEqual(['0/9000#2']);
    expect(applied(placeBatch(wm, batch('0/9000', 1, true), [event('0/9000', 7)]))).toEqual(['0/9000#7']);
  });
});

describe('a chunk that says after which change it starts (after_seq)', () => {
  const chunkAfter = (lsn: string, chunkIndex: number, chunkLast: boolean, afterSeq: number) => ({ ...batch(lsn, chunkIndex, chunkLast), afterSeq });
  // Split one way: changes 0-9 and 10-19 applied (chunks 0 and 1).
  const wm = at('0/9000', 1, false, 19);

  it('continues what was applied whatever its index: a restarted sender split the transaction at other places', () => {
    // Re-split into chunks of 4: the sixth chunk (index 5) starts right after the applied part.
    expect(applied(placeBatch(wm, chunkAfter('0/9000', 5, false, 19), [event('0/9000', 20), event('0/9000', 21)]))).toEqual(['0/9000#20', '0/9000#21']);
    // Starting inside the applied part: only the changes after it are new.
    expect(applied(placeBatch(wm, chunkAfter('0/9000', 4, true, 15), [event('0/9000', 16), event('0/9000', 20)]))).toEqual(['0/9000#20']);
    // Changes 20-22 of tables no longer replicated are skipped by the new split: still continuous.
    expect(applied(placeBatch(at('0/9000', 1, false, 22), chunkAfter('0/9000', 5, true, 19), [event('0/9000', 23)]))).toEqual(['0/9000#23']);
  });

  it('is refused when changes between the last one applied and its start are missing, whatever its index', () => {
    const skipping = placeBatch(wm, chunkAfter('0/9000', 2, false, 29), [event('0/9000', 30)]);
    expect(skipping.kind).toBe('gap');
    expect(skipping.kind === 'gap' && skipping.reason).toContain('follows the change with seq 29 but changes of that transaction were applied only up to seq 19');
    // A chunk after the first of a transaction never started is a gap, as before.
    expect(kind(placeBatch(at('0/10'), chunkAfter('0/9000', 1, false, 5), [event('0/9000', 6)]))).toBe('gap');
  });
});
