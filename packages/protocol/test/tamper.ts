/** Every copy of `bytes` with exactly one byte changed (XOR 0xff), with its position. */
export function* eachByteFlipped(bytes: Uint8Array): Generator<{ index: number; tampered: Buffer }> {
  for (let index = 0; index < bytes.length; index += 1) {
    const tampered = Buffer.from(bytes);
    tampered[index]! ^= 0xff;
    yield { index, tampered };
  }
}
