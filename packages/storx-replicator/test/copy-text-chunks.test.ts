// The COPY TO stream cut into chunks of whole rows: every chunk but the last ends at the last row end of the
// piece that reached the size, and the chunks together are the stream, byte for byte, with every row counted once.
import { describe, expect, it } from 'vitest';
import { type CopyTextChunk, CopyTextChunker } from '../src/snapshot/copy-text-chunks.js';

function cut(stream: Buffer, pieceBytes: number, maxBytes: number): CopyTextChunk[] {
  const chunker = new CopyTextChunker(maxBytes);
  const chunks: CopyTextChunk[] = [];
  for (let at = 0; at < stream.length; at += pieceBytes) {
    const chunk = chunker.add(stream.subarray(at, at + pieceBytes));
    if (chunk) chunks.push(chunk);
  }
  chunks.push(chunker.finish());
  return chunks;
}

describe('CopyTextChunker', () => {
  const rows = Array.from({ length: 500 }, (_, index) => `${index}\tvalue ${'x'.repeat(index % 37)}\t\\N\n`);
  const stream = Buffer.from(rows.join(''));

  it.each([
    [7, 100],
    [64, 1000],
    [1000, 100],
    [stream.length, 1 << 20],
  ])('pieces of %i bytes, chunks of %i: whole rows, the stream unchanged, every row counted', (pieceBytes, maxBytes) => {
    const chunks = cut(stream, pieceBytes, maxBytes);
    expect(Buffer.concat(chunks.flatMap((chunk) => chunk.pieces))).toEqual(stream);
    expect(chunks.reduce((sum, chunk) => sum + chunk.rows, 0)).toBe(rows.length);
    for (const chunk of chunks) {
      const bytes = Buffer.concat(chunk.pieces);
      expect(chunk.bytes).toBe(bytes.length);
      if (bytes.length > 0) expect(bytes.at(-1)).toBe(0x0a);
    }
    // Cut at the last row end of the piece that reached the size.
    for (const chunk of chunks.slice(0, -1)) expect(chunk.bytes).toBeGreaterThan(maxBytes - pieceBytes);
  });

  it('an empty table is one chunk of no rows; a stream ending inside a row is an error', () => {
    expect(cut(Buffer.alloc(0), 10, 100)).toEqual([{ pieces: [], bytes: 0, rows: 0 }]);
    const chunker = new CopyTextChunker(100);
    chunker.add(Buffer.from('1\tabc'));
    expect(() => chunker.finish()).toThrow(/ended inside a row/);
  });
});
