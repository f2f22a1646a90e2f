/** Every copy of `bytes` with exactly one byte changed (XOR 0xff), with its position. */
export function* eachByteFlipped(bytes: Uint8Array): Generator<{ index: number; tampered: Buffer }> {
  for (let index = 0; index < bytes.length; index += 1) {
    const tampered = Buffer.from(bytes);
    tampered[index]! ^= 0xff;
    yield { index, tampered };
  }
}

/**
 * `text` with the character at `index` (negative: from the end) replaced by another base64url
 * character: always a change, whatever was there (writing a fixed 'A' over it is no change one
 * time in 64, or one in 4 for the last character of an encoded tag).
 */
export function withCharChanged(text: string, index: number): string {
  const at = index < 0 ? text.length + index : index;
  return `${text.slice(0, at)}${text[at] === 'A' ? 'B' : 'A'}${text.slice(at + 1)}`;
}
