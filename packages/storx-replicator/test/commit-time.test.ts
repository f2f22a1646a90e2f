import { describe, expect, it } from 'vitest';
import { pgTimestampToIso, pgTimestampToUnixMs, writeIsoTimestamp } from '../src/decode/commit-time.js';

describe('pgoutput timestamps', () => {
  it('keep all six fractional digits (a JS Date alone keeps three)', () => {
    expect(pgTimestampToIso(0n)).toBe('2000-01-01T00:00:00.000000Z');
    expect(pgTimestampToIso(818_331_600_123_456n)).toBe('2025-12-06T10:20:00.123456Z');
    expect(pgTimestampToIso(-1n)).toBe('1999-12-31T23:59:59.999999Z');
    expect(pgTimestampToUnixMs(818_331_600_123_456n)).toBe(Date.parse('2025-12-06T10:20:00.123Z'));
  });

  it('formats every instant as the exact BigInt arithmetic does, through the per-second cache and around it', () => {
    const reference = (micros: bigint): string => {
      const unix = micros + 946_684_800_000_000n;
      let seconds = unix / 1_000_000n;
      let fraction = unix % 1_000_000n;
      if (fraction < 0n) {
        fraction += 1_000_000n;
        seconds -= 1n;
      }
      return `${new Date(Number(seconds) * 1000).toISOString().slice(0, 19)}.${fraction.toString().padStart(6, '0')}Z`;
    };
    const instants: bigint[] = [0n, -1n, 1n, 999_999n, 1_000_000n, -1_000_000n, -1_000_001n, 2n ** 52n - 1n, 2n ** 52n, -(2n ** 52n), 10n ** 17n];
    // Commits of one second, then the next, then back: the cache must follow.
    const base = 818_331_600_000_000n;
    for (const offset of [5n, 99_999n, 100_000n, 999_999n, 1_000_000n, 1_000_001n, 7n]) instants.push(base + offset);
    let seed = 12_345;
    for (let index = 0; index < 500; index += 1) {
      seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
      instants.push(BigInt(seed) * 1_000_003n - 10n ** 15n);
    }
    const out = Buffer.alloc(64, 0x7e);
    for (const micros of instants) {
      expect(pgTimestampToIso(micros), String(micros)).toBe(reference(micros));
      // The bytes written in place (the assembler's path) are the same text, and nothing past it.
      const end = writeIsoTimestamp(micros, out, 3);
      expect(out.toString('latin1', 3, end), String(micros)).toBe(reference(micros));
      expect(out[end], String(micros)).toBe(0x7e);
      expect(pgTimestampToUnixMs(micros), String(micros)).toBe(Number((micros + 946_684_800_000_000n) / 1000n));
    }
  });
});
