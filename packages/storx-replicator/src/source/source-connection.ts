import pg from 'pg';
import { sessionOptionsFor } from '@storx-backup/protocol';

/**
 * A connection to the source. The replication connection and the plain one get the same
 * session settings, so that the walsender prints values exactly as the receiver reads them.
 */
export function sourceClient(databaseUrl: string, options: { replication?: boolean; applicationName?: string } = {}): pg.Client {
  return new pg.Client({
    connectionString: databaseUrl,
    application_name: options.applicationName ?? 'storx-replicator',
    options: sessionOptionsFor(databaseUrl),
    // A source that does not answer must fail the attempt (and be retried), not hang it.
    connectionTimeoutMillis: 10_000,
    ...(options.replication ? { replication: 'database' } : {}),
  });
}

/** Connects, runs `work`, always closes. */
export async function withSourceClient<T>(databaseUrl: string, work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = sourceClient(databaseUrl);
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}
