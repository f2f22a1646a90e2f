import { describe, expect, it } from 'vitest';
import { EncodedEvents } from '../src/batch/encoded-events.js';
import { UserTypedValues } from '../src/batch/user-typed-values.js';

const text = (events: EncodedEvents): string => Buffer.concat(events.pieces).toString('latin1');

describe('EncodedEvents', () => {
  it('joins pieces that follow each other in one buffer, keeps the others apart, and counts events and bytes', () => {
    const buffer = Buffer.from('{"a":1},{"b":2},{"c":3},{"d":4},', 'latin1');
    const other = Buffer.from('{"x":9},', 'latin1');
    const batch = new EncodedEvents();
    for (const [start, end] of [
      [0, 8],
      [8, 16],
    ]) {
      const part = new EncodedEvents();
      part.add(buffer.subarray(start, end), 1);
      batch.append(part);
    }
    expect(batch.pieces).toHaveLength(1);
    // Read in the middle (a view is made), then more: still every byte, in order.
    const part = new EncodedEvents();
    part.add(other, 1);
    part.add(Buffer.alloc(0), 5); // an empty piece adds nothing, as before
    batch.append(part);
    batch.add(buffer.subarray(16, 24), 1);
    batch.add(buffer.subarray(24, 32), 1);
    expect(text(batch)).toBe('{"a":1},{"b":2},{"x":9},{"c":3},{"d":4},');
    expect(batch.pieces).toHaveLength(3);
    expect(batch.count).toBe(5);
    expect(batch.byteLength).toBe(40);
  });

  it('makes typed values only when asked, and merges those of the parts appended', () => {
    const batch = new EncodedEvents();
    const plain = new EncodedEvents();
    plain.add(Buffer.from('{},'), 1);
    batch.append(plain);
    const typed = new UserTypedValues();
    typed.record(7, 2, 'red');
    const withTyped = new EncodedEvents(typed);
    withTyped.add(Buffer.from('{},'), 1);
    batch.append(withTyped);
    withTyped.typedValues.record(7, 2, 'green');
    expect(batch.typedValues.valuesOf(7, 2)).toEqual(new Set(['red']));
    expect(new EncodedEvents().typedValues.isEmpty).toBe(true);
  });
});
