import { z } from 'zod';
import { lsnTextSchema } from './identifiers.js';
import { formatLsn, type Lsn, parseLsn } from './lsn.js';

/**
 * Which PostgreSQL history a batch comes from: the source's system identifier (fixed at initdb,
 * shared by a primary and every standby copied from it) and the timeline the sending server is
 * on, with the timeline's history (`TIMELINE_HISTORY`): each ancestor timeline and the LSN where
 * it ended. A promotion starts a new timeline; the WAL before the switch point is shared, the WAL
 * after it exists only on the server that was promoted.
 */
export const sourceOriginSchema = z.strictObject({
  /** `IDENTIFY_SYSTEM`'s systemid: a 64-bit number, in decimal. */
  system_id: z.string().regex(/^[0-9]{1,20}$/, 'must be a PostgreSQL system identifier (decimal)'),
  /** The timeline the sending server is on (1 until the first promotion). */
  timeline: z.number().int().min(1).max(0xffffffff),
  /** Ancestors of `timeline`, oldest first: timeline `timeline` ended at `end_lsn`. */
  history: z.array(z.strictObject({ timeline: z.number().int().min(1).max(0xffffffff), end_lsn: lsnTextSchema })).max(10_000),
});
export type SourceOrigin = z.infer<typeof sourceOriginSchema>;

/** What the receiver recorded with its watermark: the system and timeline it last applied from. */
export interface RecordedOrigin {
  systemId: string;
  timeline: number;
}

export type LineageVerdict =
  | { kind: 'same' }
  /** A descendant timeline that forked after everything applied: continue, and record it. */
  | { kind: 'descendant' }
  | { kind: 'first' }
  | { kind: 'refused'; code: 'SOURCE_SYSTEM_MISMATCH' | 'SOURCE_TIMELINE_FORKED'; reason: string };

/**
 * Whether a batch from `origin` may be applied on top of what the receiver holds: data applied up
 * to `applied` (the highest commit or copy image LSN) from `recorded`.
 *
 * The LSN comparison alone cannot decide this: after a promotion, the same LSN names different
 * WAL on the two timelines. A server on another system, or on a timeline that is not a descendant
 * of the recorded one, or one that forked from it at or before `applied` (an old primary started
 * again on its own timeline; a standby promoted before it received what the backup holds) would
 * have its changes skipped or mixed in silently. Those are refused.
 */
export function judgeLineage(recorded: RecordedOrigin | undefined, applied: Lsn | undefined, origin: SourceOrigin | undefined): LineageVerdict {
  if (recorded === undefined) return { kind: 'first' };
  if (origin === undefined) {
    return { kind: 'refused', code: 'SOURCE_SYSTEM_MISMATCH', reason: `the batch does not say which PostgreSQL system it comes from, but this receiver applied from system ${recorded.systemId} (timeline ${recorded.timeline}); upgrade the sender` };
  }
  if (origin.system_id !== recorded.systemId) {
    return { kind: 'refused', code: 'SOURCE_SYSTEM_MISMATCH', reason: `the batch comes from PostgreSQL system ${origin.system_id}, but this receiver applied from system ${recorded.systemId}: another cluster (not a standby of the one replicated so far) is behind this source id and slot` };
  }
  if (origin.timeline === recorded.timeline) return { kind: 'same' };
  const ancestor = origin.history.find((entry) => entry.timeline === recorded.timeline);
  if (ancestor === undefined) {
    return { kind: 'refused', code: 'SOURCE_TIMELINE_FORKED', reason: `the batch comes from timeline ${origin.timeline}, which does not descend from timeline ${recorded.timeline} the backup was applied from (an old primary started again after a promotion?)` };
  }
  const end = parseLsn(ancestor.end_lsn);
  if (applied !== undefined && applied >= end) {
    return { kind: 'refused', code: 'SOURCE_TIMELINE_FORKED', reason: `the batch comes from timeline ${origin.timeline}, which forked from timeline ${recorded.timeline} at ${ancestor.end_lsn}, before the backup's position ${formatLsn(applied)}: the backup holds changes this server never had (a standby promoted before it received them)` };
  }
  return { kind: 'descendant' };
}

/** Parses a timeline history file (`TIMELINE_HISTORY`): `parentTLI<TAB>switchpoint<TAB>reason` lines. */
export function parseTimelineHistory(content: string): SourceOrigin['history'] {
  const history: SourceOrigin['history'] = [];
  for (const line of content.split('\n')) {
    const trimmed = line.trim();
    if (trimmed === '' || trimmed.startsWith('#')) continue;
    const [timeline, end] = trimmed.split(/\s+/);
    history.push({ timeline: Number(timeline), end_lsn: formatLsn(parseLsn(end ?? '')) });
  }
  return history;
}
