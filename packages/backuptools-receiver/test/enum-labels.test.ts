import { describe, expect, it } from 'vitest';
import { planEnumLabels } from '../src/schema/enum-labels.js';

describe('planEnumLabels', () => {
  it('nothing to do when the labels agree, or when the backup has more (in order)', () => {
    expect(planEnumLabels(['a', 'b'], ['a', 'b'])).toEqual({ kind: 'same' });
    expect(planEnumLabels(['a', 'x', 'b', 'y'], ['a', 'b'])).toEqual({ kind: 'backup-ahead' });
  });

  it('adds what the source gained, first, between and last, each placed after its predecessor on the source', () => {
    expect(planEnumLabels(['b', 'd'], ['a', 'b', 'c', 'd', 'e'])).toEqual({
      kind: 'add',
      steps: [
        { label: 'a', place: { before: 'b' } },
        { label: 'c', place: { after: 'b' } },
        { label: 'e', place: { after: 'd' } },
      ],
    });
    expect(planEnumLabels(['b'], ['b', 'x', 'y'])).toEqual({ kind: 'add', steps: [{ label: 'x', place: { after: 'b' } }, { label: 'y', place: { after: 'x' } }] });
    expect(planEnumLabels([], ['a', 'b'])).toEqual({ kind: 'add', steps: [{ label: 'a', place: undefined }, { label: 'b', place: { after: 'a' } }] });
  });

  it('differs when a label was renamed or removed, or the order changed', () => {
    expect(planEnumLabels(['a', 'b'], ['a', 'c'])).toEqual({ kind: 'differs' });
    expect(planEnumLabels(['a', 'b', 'c'], ['a', 'c', 'd'])).toEqual({ kind: 'differs' });
    expect(planEnumLabels(['a', 'b'], ['b', 'a', 'c'])).toEqual({ kind: 'differs' });
  });
});
