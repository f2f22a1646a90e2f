import { ProtocolError } from '@storx-backup/protocol';

/**
 * The ids of requests that make the backup database work, seen within the timestamp window: a
 * verify request (it hashes rows) and a ping carrying relations (doctor's and status's table
 * question: DDL rolled back, locks waited for). A captured one sent again is refused before any
 * database work. (A batch needs no such guard: the watermark makes a replayed batch a duplicate
 * that changes nothing.) A request older than the window is refused by its timestamp, so ids
 * are kept for the whole window on both sides of now and no longer; at most `capacity` at once:
 * beyond that, such requests are refused until ids expire (a signed sender never sends that
 * many: one at a time).
 *
 * In memory: two receiver processes behind one load balancer each accept an id once, and a
 * replay right after a restart is accepted (its work is bounded).
 */
export class ReplayGuard {
  private readonly seen = new Map<string, number>();

  constructor(
    private readonly toleranceSeconds: number,
    private readonly capacity = 10_000,
  ) {}

  /** Records `id`; throws WEBHOOK_REPLAYED (401) when it was seen inside the window. `timestamp` is the request's, unix seconds. */
  admit(id: string, timestamp: number, now: number = Math.floor(Date.now() / 1000)): void {
    this.expire(now);
    if (this.seen.has(id)) throw new ProtocolError('WEBHOOK_REPLAYED', `request ${id} was received before`);
    if (this.seen.size >= this.capacity) throw new ProtocolError('WEBHOOK_REPLAYED', `more than ${this.capacity} verify requests and table checks inside the timestamp window; refusing until they expire`);
    // Refused by its timestamp from then on: older than the window.
    this.seen.set(id, Math.max(timestamp, now) + this.toleranceSeconds);
  }

  private expire(now: number): void {
    for (const [id, until] of this.seen) {
      if (until < now) this.seen.delete(id);
    }
  }
}
