const NEWLINE = 0x0a;

/** Whole rows of COPY text, in pieces simply concatenated. */
export interface CopyTextChunk {
  pieces: Buffer[];
  bytes: number;
  rows: number;
}

/**
 * Cuts a `COPY ... TO STDOUT` text stream (pieces as they come off the socket, a row may span
 * two) into chunks of whole rows of about `maxBytes`: a chunk ends at the last row end of the
 * piece that brought it to `maxBytes` (so it is at most one socket read larger, or smaller). In
 * COPY text every newline byte ends a row (a newline in a value is escaped). Nothing is copied:
 * a chunk's pieces are views into the stream's buffers.
 */
export class CopyTextChunker {
  private pieces: Buffer[] = [];
  private bytes = 0;

  constructor(private readonly maxBytes: number) {}

  /** Adds a piece; returns a finished chunk when this piece filled one. */
  add(piece: Buffer): CopyTextChunk | undefined {
    if (piece.length === 0) return undefined;
    if (this.bytes + piece.length < this.maxBytes) {
      this.pieces.push(piece);
      this.bytes += piece.length;
      return undefined;
    }
    const cut = piece.lastIndexOf(NEWLINE) + 1;
    if (cut === 0) {
      // No row ends in this piece: the chunk grows until one does.
      this.pieces.push(piece);
      this.bytes += piece.length;
      return undefined;
    }
    const chunk = this.take([piece.subarray(0, cut)]);
    if (cut < piece.length) {
      this.pieces = [piece.subarray(cut)];
      this.bytes = piece.length - cut;
    }
    return chunk;
  }

  /** What is left at the end of the stream (every row complete), possibly no rows. */
  finish(): CopyTextChunk {
    const chunk = this.take([]);
    if (chunk.bytes > 0 && chunk.pieces.at(-1)![chunk.pieces.at(-1)!.length - 1] !== NEWLINE) throw new Error('COPY TO output ended inside a row');
    return chunk;
  }

  private take(extra: Buffer[]): CopyTextChunk {
    const pieces = [...this.pieces, ...extra];
    this.pieces = [];
    this.bytes = 0;
    let bytes = 0;
    let rows = 0;
    for (const piece of pieces) {
      bytes += piece.length;
      for (let at = piece.indexOf(NEWLINE); at !== -1; at = piece.indexOf(NEWLINE, at + 1)) rows++;
    }
    return { pieces, bytes, rows };
  }
}
