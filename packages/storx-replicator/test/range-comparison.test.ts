import { describe, expect, it } from 'vitest';
import { differingRanges, requestSlices } from '../src/verify/range-comparison.js';

describe('differingRanges', () => {
  it('names the ranges whose count or hash differ', () => {
    const source = [{ count: 2, hash: 'a' }, { count: 2, hash: 'b' }, { count: 0, hash: null }, { count: 1, hash: 'c' }];
    const backup = [{ count: 2, hash: 'a' }, { count: 2, hash: 'x' }, { count: 1, hash: 'd' }, { count: 1, hash: 'c' }];
    expect(differingRanges(source, backup)).toEqual([1, 2]);
  });

  it('refuses an answer with another number of ranges', () => {
    expect(() => differingRanges([{ count: 1, hash: 'a' }], [])).toThrow(/answered 0 ranges for 1/);
  });
});

describe('requestSlices', () => {
  it('keeps each request within the range and row limits', () => {
    const ranges = Array.from({ length: 250 }, (_, index) => index);
    expect(requestSlices(ranges, 10_000, { maxRanges: 100, maxRows: 2_000_000 }).map((slice) => slice.length)).toEqual([100, 100, 50]);
    expect(requestSlices(ranges, 100_000, { maxRanges: 100, maxRows: 2_000_000 }).map((slice) => slice.length)).toEqual(Array(12).fill(20).concat([10]));
    expect(requestSlices([1], 3_000_000, { maxRanges: 100, maxRows: 2_000_000 })).toEqual([[1]]);
  });
});
