/** How long the receiver waits on a client, in milliseconds. */
export interface HttpTimeouts {
  /**
   * The whole request (headers and body) must arrive within this; a slower or stalled upload is
   * answered 408 and its connection closed. Default 120 s: a 64 MiB body at 10 Mbit/s takes 54 s.
   */
  requestMs: number;
  /** A connection on which nothing moves for this long is closed, even mid-request. Above the longest apply of one batch. Default 300 s. */
  idleMs: number;
  /** An idle keep-alive connection between requests is closed after this. Default 72 s (Fastify's). */
  keepAliveMs: number;
}

export const DEFAULT_HTTP_TIMEOUTS: HttpTimeouts = Object.freeze({ requestMs: 120_000, idleMs: 300_000, keepAliveMs: 72_000 });

/**
 * Fastify's server options for these timeouts. Node checks request deadlines only every
 * `connectionsCheckingInterval` (30 s by default): a quarter of the request timeout (at most
 * 5 s) closes a stalled upload close to its deadline. Fastify's own defaults leave the request
 * and connection timeouts at 0 (never), which is how held connections used to pile up.
 */
export function serverTimeoutOptions(timeouts: HttpTimeouts): {
  connectionTimeout: number;
  requestTimeout: number;
  keepAliveTimeout: number;
  nodeServer: { connectionsCheckingInterval: number; headersTimeout: number };
} {
  return {
    connectionTimeout: timeouts.idleMs,
    requestTimeout: timeouts.requestMs,
    keepAliveTimeout: timeouts.keepAliveMs,
    nodeServer: {
      connectionsCheckingInterval: Math.max(100, Math.min(5_000, Math.floor(timeouts.requestMs / 4))),
      // Node requires headersTimeout <= requestTimeout.
      headersTimeout: Math.min(60_000, timeouts.requestMs),
    },
  };
}
