import { formatLsn, type Lsn } from '@storx-backup/protocol';

/** How far the copy of one table has got on this receiver. */
export interface CopyState {
  schema: string;
  table: string;
  /** Consistent point of the exported snapshot the copy reads. */
  imageLsn: Lsn;
  nextChunk: number;
  done: boolean;
  rowsCopied: bigint;
}

export interface CopyChunk {
  imageLsn: Lsn;
  index: number;
}

/**
 * `start`: chunk 0 of a new copy (the backup table is emptied first); `next`: the chunk the copy
 * expects. A chunk of an older copy (a newer one has started since: the sender restarted the
 * table after a crash) or one already applied is a duplicate; one that would skip a chunk is a gap.
 */
export type CopyPlacement = { kind: 'start' } | { kind: 'next' } | { kind: 'duplicate' } | { kind: 'gap'; reason: string };

export function placeCopyChunk(state: CopyState | undefined, chunk: CopyChunk): CopyPlacement {
  if (state === undefined || chunk.imageLsn > state.imageLsn) {
    return chunk.index === 0 ? { kind: 'start' } : { kind: 'gap', reason: `chunk ${chunk.index} of the copy at ${formatLsn(chunk.imageLsn)} arrived but its chunk 0 was never applied` };
  }
  if (chunk.imageLsn < state.imageLsn || chunk.index < state.nextChunk || state.done) return { kind: 'duplicate' };
  if (chunk.index > state.nextChunk) return { kind: 'gap', reason: `chunk ${chunk.index} of the copy at ${formatLsn(chunk.imageLsn)} arrived but chunk ${state.nextChunk} is next` };
  return { kind: 'next' };
}

/**
 * What a stream change of a copied table means: a change that committed before the copy's
 * snapshot is already in the copy (`skip`); a later one while the copy is still running would be
 * overwritten by older rows (`wait`); otherwise it applies.
 */
export function streamChangeVersusCopy(state: CopyState | undefined, commitLsn: Lsn): 'apply' | 'skip' | 'wait' {
  if (state === undefined) return 'apply';
  if (commitLsn < state.imageLsn) return 'skip';
  return state.done ? 'apply' : 'wait';
}

/**
 * True once the copy chunk a chunk `follows` (the one before it, `index - 1`, of the copy at
 * `imageLsn`) is applied, or once the chunk can no longer apply in any case (a newer copy
 * started, or this one is done: it is a duplicate). The receiver holds a chunk sent ahead until
 * then; the applier's placement under the watermark lock stays the guard.
 */
export function copyPredecessorApplied(state: CopyState | undefined, chunk: CopyChunk): boolean {
  if (state === undefined || chunk.imageLsn > state.imageLsn) return false;
  return chunk.imageLsn < state.imageLsn || state.done || state.nextChunk >= chunk.index;
}
