import { describe, expect, it } from 'vitest';
import { compareLsn, formatLsn, isLsnText, type Lsn, LSN_ZERO, lsnFromBigInt, lsnToFixedHex, maxLsn, parseLsn } from '../src/index.js';

describe('Lsn', () => {
  it('parses and formats PostgreSQL text form', () => {
    expect(parseLsn('16/B374D848')).toBe(0x16b374d848n);
    expect(formatLsn(parseLsn('16/b374d848'))).toBe('16/B374D848');
    expect(formatLsn(LSN_ZERO)).toBe('0/0');
    expect(formatLsn(parseLsn('FFFFFFFF/FFFFFFFF'))).toBe('FFFFFFFF/FFFFFFFF');
  });

  it('compares as 64-bit numbers, not as text', () => {
    // As strings "0/A" > "0/10" and "9/0" > "10/0"; as LSNs both are the other way round.
    expect(compareLsn(parseLsn('0/A'), parseLsn('0/10'))).toBe(-1);
    expect(compareLsn(parseLsn('9/0'), parseLsn('10/0'))).toBe(-1);
    expect(compareLsn(parseLsn('1/0'), parseLsn('0/FFFFFFFF'))).toBe(1);
    expect(compareLsn(parseLsn('3/5'), parseLsn('3/05'))).toBe(0);
    expect(maxLsn(parseLsn('0/10'), parseLsn('0/A'))).toBe(parseLsn('0/10'));
  });

  it('rejects malformed text with a message naming the input', () => {
    for (const bad of ['', '0', '0/', '/0', 'G/0', '0/0/0', '123456789/0', ' 0/0', '0x1/0']) {
      expect(isLsnText(bad)).toBe(false);
      expect(() => parseLsn(bad)).toThrow(`invalid LSN ${JSON.stringify(bad)}`);
    }
  });

  it('parses exactly what the LSN_TEXT form describes, to the same value, on both sides of 2^53', () => {
    const reference = (text: string): bigint | undefined => {
      const match = /^([0-9A-Fa-f]{1,8})\/([0-9A-Fa-f]{1,8})$/.exec(text);
      return match ? (BigInt(`0x${match[1]}`) << 32n) | BigInt(`0x${match[2]}`) : undefined;
    };
    const texts = ['0/0', '1FFFFF/FFFFFFFF', '200000/0', '200000/1', 'ffffffff/0', 'aBcDeF/12', '00000001/00000000', '1/ 0', '1/0 ', '1/+0', '-1/0', '1/g', '1//0', 'Ⅻ/0', '١/0'];
    let seed = 7;
    for (let index = 0; index < 300; index += 1) {
      seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
      texts.push(`${(seed >>> (index % 24)).toString(16)}/${(seed * 31).toString(16).slice(-8)}`);
    }
    for (const text of texts) {
      const expected = reference(text);
      if (expected !== undefined) expect(formatLsn(expected as Lsn), text).toBe(`${(expected >> 32n).toString(16).toUpperCase()}/${(expected & 0xffffffffn).toString(16).toUpperCase()}`);
      if (expected === undefined) expect(() => parseLsn(text), text).toThrow(`invalid LSN ${JSON.stringify(text)}`);
      else expect(parseLsn(text), text).toBe(expected);
    }
  });

  it('converts from 64-bit integers within range only', () => {
    expect(formatLsn(lsnFromBigInt(0x100000000n))).toBe('1/0');
    expect(() => lsnFromBigInt(-1n)).toThrow(RangeError);
    expect(() => lsnFromBigInt(1n << 64n)).toThrow(RangeError);
  });

  it('has a fixed-width hex form that sorts like the LSN', () => {
    expect(lsnToFixedHex(parseLsn('16/B374D848'))).toBe('00000016B374D848');
    expect(lsnToFixedHex(parseLsn('0/A')) < lsnToFixedHex(parseLsn('0/10'))).toBe(true);
  });
});
