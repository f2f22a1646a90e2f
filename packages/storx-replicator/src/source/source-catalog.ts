import type pg from 'pg';
import type { Logger } from '@storx-backup/service-kit';
import { sourceClient } from './source-connection.js';

/** Runs one catalog query (a single statement: no transaction state spans two calls). */
export interface CatalogQuery {
  query<R extends pg.QueryResultRow>(text: string, values: readonly unknown[]): Promise<R[]>;
}

/**
 * The source catalog, on a connection of its own whose search_path is `pg_catalog` alone, so
 * that `format_type` names every user-defined type with its schema (`"satellite/0".status`, not
 * `status`). Nothing else uses this connection, and every lookup is one statement: concurrent
 * callers are queued by the client, never interleaved inside a transaction (a shared connection
 * running BEGIN / set_config / SELECT / COMMIT let a second caller's SELECT run under the URL's
 * search_path). Reconnects on the next use after a failure.
 */
export class SourceCatalog implements CatalogQuery {
  static readonly SEARCH_PATH = 'pg_catalog';
  private client: Promise<pg.Client> | undefined;

  constructor(
    private databaseUrl: string,
    private readonly logger: Logger,
  ) {}

  /** Points the catalog at another server (the primary moved); the old connection is closed. */
  async retarget(databaseUrl: string): Promise<void> {
    if (databaseUrl === this.databaseUrl) return;
    await this.close();
    this.databaseUrl = databaseUrl;
  }

  async query<R extends pg.QueryResultRow>(text: string, values: readonly unknown[]): Promise<R[]> {
    this.client ??= this.connect();
    const connecting = this.client;
    const client = await connecting;
    try {
      const { rows } = await client.query<R>(text, values as unknown[]);
      return rows;
    } catch (error) {
      // A server error (with a SQLSTATE) leaves the session usable; anything else (the
      // connection ended under us) means the next lookup needs a new one.
      if (typeof (error as { code?: unknown }).code !== 'string' && this.client === connecting) {
        this.client = undefined;
        void client.end().catch(() => undefined);
      }
      throw error;
    }
  }

  async close(): Promise<void> {
    const client = this.client;
    this.client = undefined;
    if (client) await client.then((connected) => connected.end()).catch(() => undefined);
  }

  private async connect(): Promise<pg.Client> {
    const client = sourceClient(this.databaseUrl, { applicationName: 'storx-replicator:catalog' });
    client.on('error', (error) => {
      this.logger.warn({ err: error }, 'source catalog connection failed; reconnecting on next use');
      this.client = undefined;
    });
    try {
      await client.connect();
      await client.query(`SET search_path = ${SourceCatalog.SEARCH_PATH}`);
      return client;
    } catch (error) {
      this.client = undefined;
      await client.end().catch(() => undefined);
      throw error;
    }
  }
}
