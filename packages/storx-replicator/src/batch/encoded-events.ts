import type { EventsJson } from '@storx-backup/protocol';
import { UserTypedValues } from './user-typed-values.js';

/**
 * Changes already written as the JSON of a batch's `events` elements, each followed by a comma
 * (see the protocol's `encodeBatchPayload`), with what the later stages need to know about them
 * without reading them again: how many, how many bytes, and the values of user-typed columns.
 * Pieces written one after the other into the same buffer are joined into one view.
 */
export class EncodedEvents implements EventsJson {
  readonly pieces: Buffer[] = [];
  count = 0;
  byteLength = 0;
  readonly typedValues: UserTypedValues;

  constructor(typedValues = new UserTypedValues()) {
    this.typedValues = typedValues;
  }

  /** Adds `count` events written as `piece`. */
  add(piece: Buffer, count: number): void {
    if (piece.length === 0) return;
    const last = this.pieces.at(-1);
    if (last !== undefined && last.buffer === piece.buffer && last.byteOffset + last.length === piece.byteOffset) {
      this.pieces[this.pieces.length - 1] = Buffer.from(last.buffer, last.byteOffset, last.length + piece.length);
    } else {
      this.pieces.push(piece);
    }
    this.count += count;
    this.byteLength += piece.length;
  }

  /** Adds every event of `other` after these. */
  append(other: EncodedEvents): void {
    for (const piece of other.pieces) this.add(piece, 0);
    this.count += other.count;
    if (!other.typedValues.isEmpty) this.typedValues.merge(other.typedValues);
  }
}
