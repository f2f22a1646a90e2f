import { laterReceiverPosition, type Lsn } from '@storx-backup/protocol';
import type { WalPositions } from '../db.js';
import type { Watermark } from './watermark.js';

/** A watermark committed asynchronously, not known to be on disk yet. */
interface Unflushed {
  watermark: Watermark;
  /** At or past the end of the commit record that wrote it (the insert position read after the commit). */
  bound: Lsn;
}

interface Lineage {
  durable: Watermark | undefined;
  unflushed: Unflushed[];
}

/** Past this many unflushed watermarks of one (source, slot), they are merged into one (the latest, with the largest bound). */
const MAX_UNFLUSHED = 1024;

/**
 * Which watermark of each (source, slot) is durably on the backup's disk, for batches committed
 * with `synchronous_commit = off`. A commit record ends at or before the WAL insert position
 * read after the commit returned; once the flush position reaches that bound, the watermark
 * (and the rows of its transaction) survive a crash of the backup PostgreSQL. Every commit
 * reports the positions it read (`WalPositions`), which also settle the watermarks before it.
 *
 * A restarted server (its start time changed) may have lost unflushed commits: what was not
 * known durable then is forgotten, never promoted by the new server's flush position, whose
 * WAL no longer holds those commits. What was known durable stays durable.
 *
 * Per receiver process and in memory: another process, or this one restarted, knows only what
 * it committed or read itself since, so it reports less, never more.
 */
export class DurablePositions {
  private readonly lineages = new Map<string, Lineage>();
  private serverStart: string | undefined;

  /**
   * `watermark` of (source, slot) is committed (written by a transaction that committed, or
   * read in one that began after its commit) and `positions` were read after that commit.
   * Returns the lineage's durable watermark now. `lost` is called when the server restarted
   * with watermarks not known durable (each lineage once).
   */
  committed(sourceId: string, slot: string, watermark: Watermark, positions: WalPositions, lost?: (sourceId: string, slot: string, latest: Watermark) => void): Watermark | undefined {
    this.observe(positions, lost);
    const lineage = this.lineage(sourceId, slot);
    if (positions.flushLsn >= positions.insertLsn) {
      lineage.durable = laterReceiverPosition(lineage.durable, watermark);
    } else {
      lineage.unflushed.push({ watermark, bound: positions.insertLsn });
      if (lineage.unflushed.length > MAX_UNFLUSHED) lineage.unflushed = [merged(lineage.unflushed)];
    }
    return lineage.durable;
  }

  /** `watermark` is on disk (its transaction committed synchronously, which flushed all WAL before it). */
  flushed(sourceId: string, slot: string, watermark: Watermark): Watermark | undefined {
    const lineage = this.lineage(sourceId, slot);
    lineage.durable = laterReceiverPosition(lineage.durable, watermark);
    return lineage.durable;
  }

  /** The durable watermark of (source, slot) known to this process; undefined if none. */
  durable(sourceId: string, slot: string): Watermark | undefined {
    return this.lineages.get(key(sourceId, slot))?.durable;
  }

  private observe(positions: WalPositions, lost?: (sourceId: string, slot: string, latest: Watermark) => void): void {
    if (this.serverStart !== undefined && this.serverStart !== positions.serverStart) {
      for (const [name, lineage] of this.lineages) {
        if (lineage.unflushed.length > 0 && lost !== undefined) {
          const [sourceId, slot] = name.split('\u0000') as [string, string];
          lost(sourceId, slot, merged(lineage.unflushed).watermark);
        }
        lineage.unflushed = [];
      }
    }
    this.serverStart = positions.serverStart;
    for (const lineage of this.lineages.values()) {
      if (lineage.unflushed.length === 0) continue;
      const still: Unflushed[] = [];
      for (const entry of lineage.unflushed) {
        if (entry.bound <= positions.flushLsn) lineage.durable = laterReceiverPosition(lineage.durable, entry.watermark);
        else still.push(entry);
      }
      lineage.unflushed = still;
    }
  }

  private lineage(sourceId: string, slot: string): Lineage {
    const name = key(sourceId, slot);
    let lineage = this.lineages.get(name);
    if (lineage === undefined) {
      lineage = { durable: undefined, unflushed: [] };
      this.lineages.set(name, lineage);
    }
    return lineage;
  }
}

function key(sourceId: string, slot: string): string {
  return `${sourceId}\u0000${slot}`;
}

/** One entry standing for all: the latest watermark, durable once the largest bound is flushed. */
function merged(entries: readonly Unflushed[]): Unflushed {
  let watermark: Watermark | undefined;
  let bound = 0n as Lsn;
  for (const entry of entries) {
    watermark = laterReceiverPosition(watermark, entry.watermark);
    if (entry.bound > bound) bound = entry.bound;
  }
  return { watermark: watermark!, bound };
}
