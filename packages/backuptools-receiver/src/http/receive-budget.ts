/**
 * Bytes that requests not yet authenticated may hold at once. The signature covers the whole
 * body, so nothing about a caller is known until its body has arrived: without a cap, a few
 * dozen connections that each declare the body limit and then stall hold gigabytes.
 *
 * A request holds the bytes that have actually arrived, not the length it declares: a caller
 * that declares 64 MiB and trickles (or stalls) holds what it sent, and cannot keep an honest
 * batch out by declaring. And no one peer (remote address; an IPv6 /64) holds more than
 * `peerLimitBytes`: a caller that does send fast and then stalls leaves the rest of the budget
 * to everyone else until request-timeout closes it. A request's bytes are given back as soon as
 * its signature verifies (an authenticated sender is trusted; it keeps at most
 * `replication.max-in-flight` batches on the wire, bounded by `max-in-flight-bytes`), or when its
 * response is done or its connection closes.
 */
export class ReceiveBudget {
  private reserved = 0;
  private readonly heldByPeer = new Map<string, number>();

  constructor(
    readonly limitBytes: number,
    /** See `peerShare`: half the budget, at least the body limit, so that one peer can still send a body of the largest size. */
    readonly peerLimitBytes: number,
  ) {}

  /** The peer share a budget of `limitBytes` gives, for a body limit of `bodyLimitBytes`. */
  static peerShare(limitBytes: number, bodyLimitBytes: number): number {
    return Math.min(limitBytes, Math.max(bodyLimitBytes, Math.floor(limitBytes / 2)));
  }

  /** Bytes held right now (for metrics, logs and tests). */
  get inUse(): number {
    return this.reserved;
  }

  /** Bytes `peer` holds right now. */
  heldBy(peer: string): number {
    return this.heldByPeer.get(peer) ?? 0;
  }

  /**
   * Opens a reservation of nothing for one request of `peer`; undefined when `bytes` more (the
   * declared length, or one byte) would not fit right now, so the body is not read at all.
   */
  open(peer: string, bytes: number): ReceiveReservation | undefined {
    if (!this.fits(peer, Math.max(1, bytes))) return undefined;
    let held = 0;
    let released = false;
    return {
      peer,
      held: () => held,
      grow: (more) => {
        if (released) return true;
        if (!this.fits(peer, more)) return false;
        held += more;
        this.add(peer, more);
        return true;
      },
      release: () => {
        if (released) return;
        released = true;
        this.add(peer, -held);
        held = 0;
      },
    };
  }

  private add(peer: string, bytes: number): void {
    this.reserved += bytes;
    const now = this.heldBy(peer) + bytes;
    if (now > 0) this.heldByPeer.set(peer, now);
    else this.heldByPeer.delete(peer);
  }

  private fits(peer: string, bytes: number): boolean {
    return this.reserved + bytes <= this.limitBytes && this.heldBy(peer) + bytes <= this.peerLimitBytes;
  }
}

/** What one request holds of the budget: grows as its bytes arrive, given back once. */
export interface ReceiveReservation {
  readonly peer: string;
  /** Bytes this request holds. */
  held(): number;
  /** Holds `bytes` more; false (holding nothing more) when they do not fit. After release always true: the request is authenticated or done. */
  grow(bytes: number): boolean;
  /** Gives everything back; idempotent. */
  release(): void;
}

/**
 * The peer a remote address counts as: the address itself, an IPv4-mapped IPv6 address as its
 * IPv4 address, and any other IPv6 address as its /64 (one host is routinely given a whole /64).
 */
export function peerOf(address: string | undefined): string {
  if (address === undefined || address === '') return 'unknown';
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped) return mapped[1]!;
  if (!address.includes(':')) return address;
  const [head = '', tail = ''] = address.split('%')[0]!.split('::');
  const headGroups = head === '' ? [] : head.split(':');
  const tailGroups = tail === '' ? [] : tail.split(':');
  const groups = address.includes('::') ? [...headGroups, ...Array<string>(Math.max(0, 8 - headGroups.length - tailGroups.length)).fill('0'), ...tailGroups] : headGroups;
  return `${groups
    .slice(0, 4)
    .map((group) => group.toLowerCase().replace(/^0+(?=.)/, ''))
    .join(':')}::/64`;
}
