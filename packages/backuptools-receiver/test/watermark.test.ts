import { describe, expect, it } from 'vitest';
import { parseLsn } from '@storx-backup/protocol';
import { placeBatch, type Watermark } from '../src/apply/watermark.js';

const at = (lsn: string, chunkIndex = 0, chunkLast = true): Watermark => ({ commitLsn: parseLsn(lsn), chunkIndex, chunkLast });
const batch = (lsn: string, chunkIndex = 0, chunkLast = true) => ({ commitLsn: parseLsn(lsn), chunkIndex, chunkLast });
const empty: Watermark = { commitLsn: undefined, chunkIndex: 0, chunkLast: true };

describe('placing a batch against the watermark', () => {
  it('applies the first batch, and any later whole transaction', () => {
    expect(placeBatch(empty, batch('0/10'))).toEqual({ kind: 'next' });
    expect(placeBatch(at('0/10'), batch('0/A0'))).toEqual({ kind: 'next' });
  });

  it('compares LSNs as numbers, not text ("0/A0" is after "0/10"; "1/0" after "0/FFFFFFFF")', () => {
    expect(placeBatch(at('0/10'), batch('0/A0')).kind).toBe('next');
    expect(placeBatch(at('0/A0'), batch('0/10')).kind).toBe('duplicate');
    expect(placeBatch(at('0/FFFFFFFF'), batch('1/0')).kind).toBe('next');
  });

  it('treats anything at or below the watermark as a duplicate', () => {
    expect(placeBatch(at('0/50'), batch('0/50')).kind).toBe('duplicate');
    expect(placeBatch(at('0/50'), batch('0/40')).kind).toBe('duplicate');
    expect(placeBatch(at('0/50', 2, true), batch('0/50', 1, false)).kind).toBe('duplicate');
    expect(placeBatch(at('0/50', 2, false), batch('0/50', 2, false)).kind).toBe('duplicate');
    expect(placeBatch(at('0/50', 2, false), batch('0/50', 0, false)).kind).toBe('duplicate');
  });

  it('applies the chunks of a split transaction strictly in order', () => {
    expect(placeBatch(at('0/10'), batch('0/50', 0, false)).kind).toBe('next');
    expect(placeBatch(at('0/50', 0, false), batch('0/50', 1, false)).kind).toBe('next');
    expect(placeBatch(at('0/50', 1, false), batch('0/50', 2, true)).kind).toBe('next');
  });

  it('refuses anything that would leave a hole, and says why', () => {
    expect(placeBatch(at('0/50', 0, false), batch('0/50', 2, false))).toEqual({ kind: 'gap', reason: 'chunk 2 of the transaction at 0/50 arrived but the last chunk applied is 0' });
    expect(placeBatch(at('0/10'), batch('0/50', 1, false)).kind).toBe('gap');
    expect(placeBatch(empty, batch('0/50', 3, true)).kind).toBe('gap');
    const incomplete = placeBatch(at('0/50', 1, false), batch('0/90'));
    expect(incomplete.kind).toBe('gap');
    expect(incomplete.kind === 'gap' && incomplete.reason).toContain('the transaction at 0/50 is incomplete');
  });
});
