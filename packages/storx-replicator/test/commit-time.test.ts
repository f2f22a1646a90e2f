import { describe, expect, it } from 'vitest';
import { pgTimestampToIso, pgTimestampToUnixMs } from '../src/decode/commit-time.js';

describe('pgoutput timestamps', () => {
  it('keep all six fractional digits (a JS Date alone keeps three)', () => {
    expect(pgTimestampToIso(0n)).toBe('2000-01-01T00:00:00.000000Z');
    expect(pgTimestampToIso(818_331_600_123_456n)).toBe('2025-12-06T10:20:00.123456Z');
    expect(pgTimestampToIso(-1n)).toBe('1999-12-31T23:59:59.999999Z');
    expect(pgTimestampToUnixMs(818_331_600_123_456n)).toBe(Date.parse('2025-12-06T10:20:00.123Z'));
  });
});
