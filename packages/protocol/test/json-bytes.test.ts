// JSON written from bytes (the replicator's path) against JSON.stringify (the reference).
import { describe, expect, it } from 'vitest';
import { JsonBytes } from '../src/json-bytes.js';
import { formatLsn, type Lsn } from '../src/lsn.js';

function written(write: (out: JsonBytes) => void, initialBytes = 16): string {
  const out = new JsonBytes(initialBytes);
  write(out);
  return out.take().toString('utf8');
}

describe('JsonBytes', () => {
  it('writes every ASCII character, alone and inside text, exactly as JSON.stringify escapes it', () => {
    for (let code = 0; code < 0x80; code += 1) {
      for (const value of [String.fromCharCode(code), `ab${String.fromCharCode(code)}c`, String.fromCharCode(code).repeat(60)]) {
        const bytes = Buffer.from(value, 'utf8');
        expect(written((out) => out.stringFromUtf8(bytes, 0, bytes.length))).toBe(JSON.stringify(value));
        expect(written((out) => out.string(value))).toBe(JSON.stringify(value));
      }
    }
  });

  it('copies valid UTF-8 (two, three and four bytes; U+2028) unchanged, and refuses invalid UTF-8 without writing', () => {
    // Past 16 KiB a value is escaped in two passes: long ones with and without escapes.
    for (const value of ['é', '中文', '😀𝄞', '\u2028\u2029', `${'x'.repeat(100)}"ü"\n`, 'x'.repeat(20_000), '"\n\u0001😀é\\'.repeat(4000)]) {
      const bytes = Buffer.concat([Buffer.from('[['), Buffer.from(value, 'utf8'), Buffer.from(']]')]);
      expect(written((out) => out.stringFromUtf8(bytes, 2, bytes.length - 2))).toBe(JSON.stringify(value));
    }
    for (const invalid of [[0xff], [0xc3], [0xed, 0xa0, 0x80] /* a surrogate */, [0xc0, 0xaf] /* overlong */, [...Buffer.from('a'.repeat(20_000)), 0xff]]) {
      const out = new JsonBytes(16);
      expect(out.stringFromUtf8(Buffer.from(invalid), 0, invalid.length)).toBe(false);
      expect(out.pending).toBe(0);
    }
  });

  it('hands out views that stay intact while the buffer is replaced, and grows for one large value', () => {
    const out = new JsonBytes(8);
    out.uint(1234567);
    const first = out.take();
    const big = Buffer.from('q"'.repeat(1000));
    expect(out.stringFromUtf8(big, 0, big.length)).toBe(true);
    out.byte(0x2c);
    const second = out.take();
    expect(first.toString()).toBe('1234567');
    expect(second.toString()).toBe(`${JSON.stringify('q"'.repeat(1000))},`);
    out.raw(Buffer.from('abc'));
    out.discard();
    expect(out.pending).toBe(0);
  });

  it('writes an LSN from its halves exactly as formatLsn does', () => {
    for (const lsn of [0n, 1n, 0xfn, 0x10n, 0xffffffffn, 0x1_00000000n, 0x16_b374d848n, 0xabcdef01_00000010n, (1n << 64n) - 1n]) {
      expect(written((out) => out.lsn(Number(lsn >> 32n), Number(lsn & 0xffffffffn)))).toBe(formatLsn(lsn as Lsn));
    }
  });
});
