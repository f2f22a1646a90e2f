/**
 * Long work on the receiver's path (decrypting and parsing a batch of up to body-limit bytes)
 * runs a slice at a time, letting the event loop answer other requests in between: one
 * 64 MiB batch must not stall /healthz for seconds. A slice is about SLICE_BYTES of input, a
 * few milliseconds of work even on a slow, busy core.
 */
export const SLICE_BYTES = 512 * 1024;

/** Lets timers, I/O and other requests run before the next slice. */
export function yieldToLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
