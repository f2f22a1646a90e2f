import { isUtf8 } from 'node:buffer';

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const HEX_DIGITS = Buffer.from('0123456789abcdef', 'latin1');

/**
 * Bytes each input byte adds when escaped inside a JSON string, exactly as `JSON.stringify`
 * escapes: `"` and `\` and the five control characters with a short form (\b \t \n \f \r) take
 * two bytes, every other control character (below 0x20) the six of `\u00xx` (lower-case hex);
 * everything else, DEL and all non-ASCII included, is copied as it is.
 */
const ESCAPE_EXTRA = new Uint8Array(256);
/** The letter after the backslash of a two-byte escape. */
const SHORT_ESCAPE = new Uint8Array(256);
for (let byte = 0; byte < 0x20; byte += 1) ESCAPE_EXTRA[byte] = 5;
for (const [byte, letter] of [[0x08, 'b'], [0x09, 't'], [0x0a, 'n'], [0x0c, 'f'], [0x0d, 'r'], [QUOTE, '"'], [BACKSLASH, '\\']] as const) {
  ESCAPE_EXTRA[byte] = 1;
  SHORT_ESCAPE[byte] = letter.charCodeAt(0);
}

/** Runs this long or longer are copied natively; shorter ones byte by byte (a native call costs more). */
const NATIVE_COPY_BYTES = 48;
/** Values up to this long are escaped in one pass; longer ones in two (see longStringFromUtf8). */
const ONE_PASS_BYTES = 16 * 1024;
const UPPER_HEX_DIGITS = Buffer.from('0123456789ABCDEF', 'latin1');

/** Writes the escape of `byte` (one `ESCAPE_EXTRA` marks) at `at`; returns where it ends. */
function writeEscape(out: Buffer, at: number, byte: number): number {
  out[at++] = BACKSLASH;
  if (ESCAPE_EXTRA[byte] === 1) {
    out[at++] = SHORT_ESCAPE[byte]!;
  } else {
    out[at++] = 0x75; // u
    out[at++] = 0x30;
    out[at++] = 0x30;
    out[at++] = HEX_DIGITS[byte >> 4]!;
    out[at++] = HEX_DIGITS[byte & 0x0f]!;
  }
  return at;
}

/** Writes a 32-bit unsigned integer as upper-case hex without leading zeros (an LSN half, as PostgreSQL prints it); returns where it ends. */
export function writeUpperHex(out: Buffer, at: number, value: number): number {
  let digits = 1;
  while (digits < 8 && value >>> (4 * digits) !== 0) digits += 1;
  for (let digit = digits - 1; digit >= 0; digit -= 1) out[at++] = UPPER_HEX_DIGITS[(value >>> (4 * digit)) & 0x0f]!;
  return at;
}

/**
 * A growing byte buffer that JSON text is written into directly, without building the values
 * it describes and without a string: the replicator writes each change's JSON straight from
 * the pgoutput bytes. What has been written can be handed on with `take()` as a view (no copy);
 * the buffer is then written on after it, and a view already taken is never written again (when
 * the buffer must grow, only the bytes not yet taken move to the new one).
 */
export class JsonBytes {
  /** The buffer written into; valid up to `length`. */
  buffer: Buffer;
  /** Bytes written, from the start of `buffer`. */
  length = 0;
  /** Bytes before this have been taken. */
  private taken = 0;

  /** @param initialBytes the first buffer's size, and the least a new one gets (default 64 KiB). */
  constructor(private readonly initialBytes = 64 * 1024) {
    this.buffer = Buffer.allocUnsafeSlow(initialBytes);
  }

  /** Bytes written and not yet taken. */
  get pending(): number {
    return this.length - this.taken;
  }

  /** Makes room for `bytes` more. */
  ensure(bytes: number): void {
    if (this.length + bytes > this.buffer.length) this.grow(bytes);
  }

  /** The bytes written since the last `take` (a view of the buffer, never written again). */
  take(): Buffer {
    const view = this.buffer.subarray(this.taken, this.length);
    this.taken = this.length;
    return view;
  }

  /** Forgets what was written since the last `take`. */
  discard(): void {
    this.length = this.taken;
  }

  /** Writes bytes as they are (a fragment of JSON text made beforehand). */
  raw(fragment: Uint8Array): void {
    this.rawRange(fragment, 0, fragment.length);
  }

  /** Writes `source[start, end)` as it is: `raw` of a fragment kept in a larger buffer, with no view made of it. */
  rawRange(source: Uint8Array, start: number, end: number): void {
    const count = end - start;
    this.ensure(count);
    const out = this.buffer;
    let at = this.length;
    if (count >= NATIVE_COPY_BYTES) {
      out.set(start === 0 && end === source.length ? source : source.subarray(start, end), at);
      at += count;
    } else {
      for (let index = start; index < end; index += 1) out[at++] = source[index]!;
    }
    this.length = at;
  }

  /** Writes one byte (an ASCII character of JSON syntax). */
  byte(value: number): void {
    this.ensure(1);
    this.buffer[this.length++] = value;
  }

  /** Writes a non-negative integer in decimal, as `JSON.stringify` writes it. */
  uint(value: number): void {
    const text = String(value);
    this.ensure(text.length);
    const out = this.buffer;
    let at = this.length;
    for (let index = 0; index < text.length; index += 1) out[at++] = text.charCodeAt(index);
    this.length = at;
  }

  /** Writes `JSON.stringify(text)` as UTF-8 (a JS string: used where values arrive as strings). */
  string(text: string): void {
    const json = JSON.stringify(text);
    this.ensure(json.length * 3);
    this.length += this.buffer.write(json, this.length, 'utf8');
  }

  /**
   * Writes `source[start, end)`, UTF-8 text, as a JSON string: byte-identical to
   * `Buffer.from(JSON.stringify(source.toString('utf8', start, end)))`. Returns false and writes
   * nothing when the bytes are not valid UTF-8 (a string could not hold them without changing
   * them: the caller says what to do).
   */
  stringFromUtf8(source: Uint8Array, start: number, end: number): boolean {
    const count = end - start;
    if (count > ONE_PASS_BYTES) return this.longStringFromUtf8(source, start, end);
    // One pass, copying as it checks: room for the worst case (every byte a six-byte escape).
    this.ensure(6 * count + 2);
    const out = this.buffer;
    let at = this.length;
    let bits = 0;
    out[at++] = QUOTE;
    for (let index = start; index < end; index += 1) {
      const byte = source[index]!;
      bits |= byte;
      if (ESCAPE_EXTRA[byte] === 0) out[at++] = byte;
      else at = writeEscape(out, at, byte);
    }
    // Nothing counts as written until `length` moves: an invalid value leaves no trace.
    if (bits >= 0x80 && !isUtf8(source.subarray(start, end))) return false;
    out[at++] = QUOTE;
    this.length = at;
    return true;
  }

  /** A PostgreSQL LSN as its text (`16/B374D848`: upper-case hex, no leading zeros) from its two 32-bit halves. */
  lsn(high: number, low: number): void {
    this.ensure(17);
    const out = this.buffer;
    let at = writeUpperHex(out, this.length, high);
    out[at++] = 0x2f; // /
    this.length = writeUpperHex(out, at, low);
  }

  /** Two passes (count the escapes, then write): a long value never needs room for six times its size. */
  private longStringFromUtf8(source: Uint8Array, start: number, end: number): boolean {
    let extra = 0;
    let bits = 0;
    for (let index = start; index < end; index += 1) {
      const byte = source[index]!;
      extra += ESCAPE_EXTRA[byte]!;
      bits |= byte;
    }
    if (bits >= 0x80 && !isUtf8(source.subarray(start, end))) return false;
    this.ensure(end - start + extra + 2);
    const out = this.buffer;
    let at = this.length;
    out[at++] = QUOTE;
    if (extra === 0) {
      out.set(source.subarray(start, end), at);
      at += end - start;
    } else {
      for (let index = start; index < end; index += 1) {
        const byte = source[index]!;
        if (ESCAPE_EXTRA[byte] === 0) out[at++] = byte;
        else at = writeEscape(out, at, byte);
      }
    }
    out[at++] = QUOTE;
    this.length = at;
    return true;
  }

  private grow(bytes: number): void {
    const kept = this.length - this.taken;
    const next = Buffer.allocUnsafeSlow(Math.max(this.initialBytes, 2 * (kept + bytes)));
    this.buffer.copy(next, 0, this.taken, this.length);
    this.buffer = next;
    this.length = kept;
    this.taken = 0;
  }
}
