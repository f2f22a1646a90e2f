import type pg from 'pg';
import { sourceClient } from '../source/source-connection.js';

/** How long status and doctor wait for the source to accept a connection (pg alone waits forever). */
export const CONNECT_TIMEOUT_MS = 10_000;

/**
 * A plain connection to the source for read-only inspection, given up after `timeoutMs` so
 * that a firewalled host makes `status` report an error instead of hanging.
 */
export async function connectSource(databaseUrl: string, timeoutMs: number = CONNECT_TIMEOUT_MS): Promise<pg.Client> {
  const client = sourceClient(databaseUrl, { applicationName: 'storx-replicator:inspect' });
  // A connection that breaks between queries must not crash the command: the next query fails.
  client.on('error', () => undefined);
  const connecting = client.connect();
  // Observed below through the race; this keeps a late failure after the timeout from going unhandled.
  connecting.catch(() => undefined);
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer from the database within ${timeoutMs / 1000} s`)), timeoutMs);
  });
  try {
    await Promise.race([connecting, timeout]);
    return client;
  } catch (error) {
    await client.end().catch(() => undefined);
    throw error;
  } finally {
    clearTimeout(timer);
  }
}
