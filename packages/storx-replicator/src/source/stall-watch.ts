import type { Lsn } from '@storx-backup/protocol';

/**
 * Notices a stream that is connected but gets nothing while the server's WAL moves on: the
 * replicator writes a heartbeat (a logical message) and expects to receive it, or anything
 * after it, within `stallAfterMs`, unless it is itself the reason (busy delivering, paused).
 * PostgreSQL 17 holds logical decoding back this way, silently but for a WARNING in its log,
 * when `synchronized_standby_slots` names a physical slot that is missing or not advancing:
 * typically a promoted standby that inherited the setting from its old primary.
 */
export class StallWatch {
  /** Heartbeats not yet seen on the stream, oldest first: where each was written and when. */
  private pending: { lsn: Lsn; atMs: number }[] = [];

  constructor(private readonly stallAfterMs: number) {}

  heartbeatWritten(lsn: Lsn, nowMs: number): void {
    this.pending.push({ lsn, atMs: nowMs });
    if (this.pending.length > 1000) this.pending.shift();
  }

  /** Forgets heartbeats written before a new session (it starts from the slot again). */
  reset(): void {
    this.pending = [];
  }

  /**
   * Since when the stream has been held back (the oldest heartbeat not received, written longer
   * than `stallAfterMs` ago), or undefined. While the replicator itself is busy (`waitingForServer`
   * false) nothing counts as a stall: its clock restarts.
   */
  stalledSince(received: Lsn, waitingForServer: boolean, nowMs: number): number | undefined {
    this.pending = this.pending.filter((beat) => beat.lsn > received);
    if (!waitingForServer) {
      this.pending = this.pending.map((beat) => ({ lsn: beat.lsn, atMs: Math.max(beat.atMs, nowMs) }));
      return undefined;
    }
    const oldest = this.pending[0];
    return oldest !== undefined && nowMs - oldest.atMs >= this.stallAfterMs ? oldest.atMs : undefined;
  }
}
