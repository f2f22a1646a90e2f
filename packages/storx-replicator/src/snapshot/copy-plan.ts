import { type Lsn, parseLsn, type RecordedOrigin } from '@storx-backup/protocol';
import type { SourceTable } from '../source/source-tables.js';

/** What the receiver holds for this source and slot, from its ping answer. */
export interface ReceiverState {
  watermark: Lsn | undefined;
  copies: { schema: string; table: string; imageLsn: Lsn; done: boolean }[];
  /** The system and timeline the receiver last applied from (undefined: none recorded, or an older receiver). */
  origin: RecordedOrigin | undefined;
}

export function parseReceiverState(body: string): ReceiverState {
  const parsed = JSON.parse(body) as {
    watermark?: { commit_lsn?: string | null } | null;
    table_copies?: { schema: string; table: string; image_lsn: string; done: boolean }[];
    origin?: { system_id?: unknown; timeline?: unknown } | null;
  };
  const origin = parsed.origin;
  const lsn = parsed.watermark?.commit_lsn;
  return {
    watermark: typeof lsn === 'string' ? parseLsn(lsn) : undefined,
    copies: (parsed.table_copies ?? []).map((copy) => ({ schema: copy.schema, table: copy.table, imageLsn: parseLsn(copy.image_lsn), done: copy.done })),
    origin: typeof origin?.system_id === 'string' && typeof origin.timeline === 'number' ? { systemId: origin.system_id, timeline: origin.timeline } : undefined,
  };
}

/**
 * The tables `run` must copy before it streams: every copy the receiver has started and not
 * completed (a crash or stop in the middle), and, while the receiver has applied nothing from
 * the slot yet, every table never copied (the initial snapshot did not get that far).
 */
export function tablesToCopy(tables: readonly SourceTable[], state: ReceiverState, initialSnapshot: boolean): SourceTable[] {
  return tables.filter((table) => {
    const copy = state.copies.find((candidate) => candidate.schema === table.schema && candidate.table === table.table);
    if (copy) return !copy.done;
    return initialSnapshot && state.watermark === undefined;
  });
}

/** Tables the receiver never received a copy of although it has data from the slot: added later. */
export function tablesNeverCopied(tables: readonly SourceTable[], state: ReceiverState): SourceTable[] {
  if (state.watermark === undefined && state.copies.length === 0) return [];
  return tables.filter((table) => !state.copies.some((copy) => copy.schema === table.schema && copy.table === table.table));
}
