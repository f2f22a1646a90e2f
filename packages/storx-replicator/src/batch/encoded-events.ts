import type { EventsJson } from '@storx-backup/protocol';
import { UserTypedValues } from './user-typed-values.js';

/**
 * Changes already written as the JSON of a batch's `events` elements, each followed by a comma
 * (see the protocol's `encodeBatchPayload`), with what the later stages need to know about them
 * without reading them again: how many, how many bytes, and the values of user-typed columns.
 * Pieces written one after the other into the same buffer are joined into one view.
 *
 * Built per source transaction and appended per transaction to a batch, so both ends are kept
 * cheap for a backlog of single-row transactions: the last piece is held as its buffer and range
 * (a view is made only when `pieces` is read, not at every join), and the typed values exist
 * only once a user-typed value is recorded (most tables have none).
 */
export class EncodedEvents implements EventsJson {
  private readonly joined: Buffer[] = [];
  /** The last piece, not yet a view in `joined`: its buffer (undefined: none) and range. */
  private tail: ArrayBufferLike | undefined;
  private tailOffset = 0;
  private tailLength = 0;
  count = 0;
  byteLength = 0;
  private typed: UserTypedValues | undefined;

  constructor(typedValues?: UserTypedValues) {
    this.typed = typedValues;
  }

  /** The events' bytes, in order (views of the buffers they were written in). */
  get pieces(): readonly Buffer[] {
    if (this.tail !== undefined) {
      this.joined.push(Buffer.from(this.tail, this.tailOffset, this.tailLength));
      this.tail = undefined;
    }
    return this.joined;
  }

  /** Values of user-typed columns (created when first asked for). */
  get typedValues(): UserTypedValues {
    return (this.typed ??= new UserTypedValues());
  }

  /** Adds `count` events written as `piece`. */
  add(piece: Uint8Array, count: number): void {
    if (piece.length === 0) return;
    this.join(piece.buffer, piece.byteOffset, piece.length);
    this.count += count;
  }

  /** Adds every event of `other` after these. */
  append(other: EncodedEvents): void {
    for (const piece of other.joined) this.join(piece.buffer, piece.byteOffset, piece.length);
    if (other.tail !== undefined) this.join(other.tail, other.tailOffset, other.tailLength);
    this.count += other.count;
    if (other.typed !== undefined && !other.typed.isEmpty) this.typedValues.merge(other.typed);
  }

  /** `length` bytes of `buffer` at `offset` after the others: continues the tail when they follow it there. */
  private join(buffer: ArrayBufferLike, offset: number, length: number): void {
    if (length === 0) return;
    this.byteLength += length;
    if (this.tail === buffer && this.tailOffset + this.tailLength === offset) {
      this.tailLength += length;
      return;
    }
    if (this.tail !== undefined) this.joined.push(Buffer.from(this.tail, this.tailOffset, this.tailLength));
    this.tail = buffer;
    this.tailOffset = offset;
    this.tailLength = length;
  }
}
