/**
 * Bytes that requests not yet authenticated may hold at once. The signature covers the whole
 * body, so nothing about a caller is known until its body has arrived: without a cap, a few
 * dozen connections that each declare the body limit and then stall hold gigabytes. A request
 * reserves its declared length (the body limit when it declares none) as its headers arrive,
 * and gives it back when its response is done or its connection closes; a request that does
 * not fit is answered 503 at once, without reading its body.
 */
export class ReceiveBudget {
  private reserved = 0;

  constructor(readonly limitBytes: number) {}

  /** Bytes reserved right now (for metrics and tests). */
  get inUse(): number {
    return this.reserved;
  }

  /** Reserves `bytes`; returns the function that gives them back (idempotent), or undefined when they do not fit. */
  tryReserve(bytes: number): (() => void) | undefined {
    if (this.reserved + bytes > this.limitBytes) return undefined;
    this.reserved += bytes;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.reserved -= bytes;
    };
  }
}
