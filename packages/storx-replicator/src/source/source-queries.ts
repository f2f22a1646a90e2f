import type pg from 'pg';
import type { Logger } from '@storx-backup/service-kit';
import { sourceClient } from './source-connection.js';

/**
 * A plain (non-replication) connection to the source for catalog lookups, lag and heartbeats.
 * Reconnects on the next use after it fails (the source may restart under us).
 */
export class SourceQueries {
  private client: Promise<pg.Client> | undefined;

  constructor(
    private databaseUrl: string,
    private readonly logger: Logger,
  ) {}

  /** Points the connection at another server (the primary moved); the old one is closed. */
  async retarget(databaseUrl: string): Promise<void> {
    if (databaseUrl === this.databaseUrl) return;
    await this.close();
    this.databaseUrl = databaseUrl;
  }

  get(): Promise<pg.Client> {
    this.client ??= this.connect();
    return this.client;
  }

  async close(): Promise<void> {
    const client = this.client;
    this.client = undefined;
    if (client) await client.then((connected) => connected.end()).catch(() => undefined);
  }

  private async connect(): Promise<pg.Client> {
    const client = sourceClient(this.databaseUrl, { applicationName: 'storx-replicator:queries' });
    client.on('error', (error) => {
      this.logger.warn({ err: error }, 'source query connection failed; reconnecting on next use');
      this.client = undefined;
    });
    try {
      await client.connect();
      return client;
    } catch (error) {
      this.client = undefined;
      throw error;
    }
  }
}
