import { describe, expect, it } from 'vitest';
import { judgeLineage, parseLsn, parseTimelineHistory, type SourceOrigin } from '../src/index.js';

const origin = (timeline: number, history: [number, string][] = [], system = '7400000000000000001'): SourceOrigin => ({ system_id: system, timeline, history: history.map(([tl, end]) => ({ timeline: tl, end_lsn: end })) });
const recorded = { systemId: '7400000000000000001', timeline: 1 };

describe('judging where a batch comes from', () => {
  it('accepts the first origin, and the same system and timeline', () => {
    expect(judgeLineage(undefined, undefined, origin(1)).kind).toBe('first');
    expect(judgeLineage(recorded, parseLsn('0/5000000'), origin(1)).kind).toBe('same');
  });

  it('accepts a promoted standby whose timeline forked after everything applied', () => {
    expect(judgeLineage(recorded, parseLsn('0/5000000'), origin(2, [[1, '0/5000100']])).kind).toBe('descendant');
    // Two promotions in a row: timeline 1 ended at 0/6000000, 2 at 0/7000000.
    expect(judgeLineage(recorded, parseLsn('0/5FFFFFF'), origin(3, [[1, '0/6000000'], [2, '0/7000000']])).kind).toBe('descendant');
  });

  it('refuses a timeline that forked at or before the watermark (the standby never had those transactions)', () => {
    const verdict = judgeLineage(recorded, parseLsn('0/5000100'), origin(2, [[1, '0/5000100']]));
    expect(verdict).toMatchObject({ kind: 'refused', code: 'SOURCE_TIMELINE_FORKED' });
    // LSNs compare as numbers: "0/A0000000" is after "0/5000100".
    expect(judgeLineage(recorded, parseLsn('0/A0000000'), origin(2, [[1, '0/5000100']]))).toMatchObject({ kind: 'refused' });
  });

  it('refuses the old primary back on its own timeline after the backup followed the promoted one', () => {
    const verdict = judgeLineage({ ...recorded, timeline: 2 }, parseLsn('0/6000000'), origin(1));
    expect(verdict).toMatchObject({ kind: 'refused', code: 'SOURCE_TIMELINE_FORKED' });
    // A sibling timeline: 3 forked from 1, the backup followed 2.
    expect(judgeLineage({ ...recorded, timeline: 2 }, parseLsn('0/6000000'), origin(3, [[1, '0/5000000']]))).toMatchObject({ kind: 'refused', code: 'SOURCE_TIMELINE_FORKED' });
  });

  it('refuses another system, and a batch with no origin once one is recorded', () => {
    expect(judgeLineage(recorded, parseLsn('0/1'), origin(1, [], '7400000000000000002'))).toMatchObject({ kind: 'refused', code: 'SOURCE_SYSTEM_MISMATCH' });
    expect(judgeLineage(recorded, parseLsn('0/1'), undefined)).toMatchObject({ kind: 'refused', code: 'SOURCE_SYSTEM_MISMATCH' });
  });

  it('parses a timeline history file', () => {
    expect(parseTimelineHistory('1\t0/3000158\tno recovery target specified\n\n2\t0/50000A0\tbefore 2026-01-01\n')).toEqual([
      { timeline: 1, end_lsn: '0/3000158' },
      { timeline: 2, end_lsn: '0/50000A0' },
    ]);
  });
});
