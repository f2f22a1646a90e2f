import pg from 'pg';

const CONNECT_TIMEOUT_MS = 15_000;

/**
 * A connected `pg.Client`; the caller ends it. If the server may go away while the client
 * is idle (crash tests), attach an `error` listener: pg emits one and, unhandled, it
 * crashes the test worker.
 */
export async function connect(url: string): Promise<pg.Client> {
  // pg waits for a connection forever by default; a wrong host should fail the test, not
  // hang it until vitest's timeout.
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: CONNECT_TIMEOUT_MS });
  try {
    await client.connect();
  } catch (error) {
    await client.end().catch(() => undefined);
    throw error;
  }
  return client;
}

/** Runs `fn` with a connected client and always ends the client afterwards. */
export async function withClient<T>(url: string, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = await connect(url);
  // A dropped connection also rejects the query `fn` is awaiting, which is where the
  // failure belongs; the duplicate `error` event must not become an uncaught exception.
  client.on('error', () => undefined);
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}
