import { describe, expect, it } from 'vitest';
import { formatDuration, formatSize, parseDuration, parseSize } from '../src/index.js';

describe('durations and sizes', () => {
  it.each([
    ['500ms', 500],
    ['5s', 5000],
    ['1.5s', 1500],
    ['2m', 120_000],
    ['1h', 3_600_000],
    ['0', 0],
  ])('parses %s', (text, ms) => {
    expect(parseDuration(text)).toBe(ms);
  });

  it.each(['30', '5 sec', '-5s', 's', ''])('refuses %j and says how to write it', (text) => {
    expect(() => parseDuration(text)).toThrow('write it with a unit, for example 500ms, 5s, 2m, 1h');
  });

  it.each([
    ['4MiB', 4 * 1024 * 1024],
    ['512KiB', 512 * 1024],
    ['16MB', 16_000_000],
    ['100B', 100],
    ['1GiB', 1024 ** 3],
  ])('parses %s', (text, bytes) => {
    expect(parseSize(text)).toBe(bytes);
  });

  it.each(['4', '4mb', 'MiB', '-1MiB'])('refuses size %j', (text) => {
    expect(() => parseSize(text)).toThrow('write it with a unit');
  });

  it('formats back for help texts', () => {
    expect([5000, 500, 120_000, 3_600_000, 1500].map(formatDuration)).toEqual(['5s', '500ms', '2m', '1h', '1500ms']);
    expect([4 * 1024 * 1024, 1024, 1000].map(formatSize)).toEqual(['4MiB', '1KiB', '1000B']);
  });
});
