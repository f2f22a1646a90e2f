import { parseLsn, type Lsn } from '@storx-backup/protocol';

/**
 * Measured commit-to-backup lag, not a histogram bucket: while the workload writes, every sample
 * notes the source's WAL position and the time; a later sample that finds the slot acknowledged
 * at or past that position (the replicator acknowledges only what the receiver has committed)
 * closes the probe. Its lag bounds the lag of every transaction committed just before it, to
 * within one sampling interval (the resolution, printed with the result).
 */
export class LagProbes {
  readonly #open: { lsn: Lsn; at: number }[] = [];
  readonly #lagsMs: number[] = [];

  /** A probe at the source's current WAL position. */
  open(currentLsn: string, at: number): void {
    this.#open.push({ lsn: parseLsn(currentLsn), at });
  }

  /** Closes every probe the slot's acknowledged position has passed. */
  settle(confirmedLsn: string, at: number): void {
    const confirmed = parseLsn(confirmedLsn);
    while (this.#open.length > 0 && this.#open[0]!.lsn <= confirmed) this.#lagsMs.push(at - this.#open.shift()!.at);
  }

  get count(): number {
    return this.#lagsMs.length;
  }

  /** The q-quantile (0..1) of the closed probes' lags in ms, nearest rank; undefined without any. */
  quantile(q: number): number | undefined {
    if (this.#lagsMs.length === 0) return undefined;
    const sorted = [...this.#lagsMs].sort((a, b) => a - b);
    return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))];
  }
}
