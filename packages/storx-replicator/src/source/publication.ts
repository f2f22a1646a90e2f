import type pg from 'pg';
import type { Logger } from '@storx-backup/service-kit';
import { ReplicatorError } from '../errors.js';
import { qualified, type SourceTable } from './source-tables.js';

/**
 * Makes the publication publish exactly the configured tables: creates it when missing, and
 * reconciles its table list when it differs (ALTER PUBLICATION ... SET TABLE). A FOR ALL TABLES
 * publication is left alone: changes to other tables are filtered out by the replicator.
 */
export async function ensurePublication(client: pg.Client, name: string, tables: readonly SourceTable[], logger: Logger): Promise<void> {
  const list = tables.map(qualified).join(', ');
  const { rows } = await client.query<{ puballtables: boolean; pubinsert: boolean; pubupdate: boolean; pubdelete: boolean; pubtruncate: boolean }>(
    'SELECT puballtables, pubinsert, pubupdate, pubdelete, pubtruncate FROM pg_publication WHERE pubname = $1',
    [name],
  );
  const existing = rows[0];
  if (existing === undefined) {
    // `name` was validated as [a-z_][a-z0-9_]*: safe as an identifier.
    try {
      await client.query(`CREATE PUBLICATION ${name} FOR TABLE ${list}`);
    } catch (cause) {
      // A least-privilege replication role may not own the tables: say who can do it instead.
      if ((cause as { code?: string }).code !== '42501') throw cause;
      throw new ReplicatorError('PUBLICATION_MISSING', `publication ${name} does not exist and this user cannot create it (${(cause as Error).message}): as the tables' owner, run CREATE PUBLICATION ${name} FOR TABLE ${list};`, { cause });
    }
    logger.info({ publication: name, tables: tables.map(qualified) }, 'publication created');
    return;
  }
  if (!(existing.pubinsert && existing.pubupdate && existing.pubdelete && existing.pubtruncate)) {
    throw new ReplicatorError('PUBLICATION_MISMATCH', `publication ${name} does not publish every operation (insert, update, delete, truncate); a backup needs all four`);
  }
  if (existing.puballtables) {
    logger.warn({ publication: name }, 'publication is FOR ALL TABLES: changes to tables outside replication.tables are decoded and dropped');
    return;
  }
  const published = await publicationTables(client, name);
  const wanted = new Set(tables.map(qualified));
  if (published.length === wanted.size && published.every((table) => wanted.has(table))) return;
  try {
    await client.query(`ALTER PUBLICATION ${name} SET TABLE ${list}`);
  } catch (cause) {
    throw new ReplicatorError('PUBLICATION_MISMATCH', `publication ${name} publishes ${published.join(', ') || 'no table'} instead of ${[...wanted].join(', ')}, and it could not be changed: ${(cause as Error).message}`, { cause });
  }
  logger.warn({ publication: name, before: published, after: [...wanted] }, 'publication tables reconciled');
}

/** The publication's tables as `"schema"."table"`, or [] when it does not exist. */
export async function publicationTables(client: pg.Client, name: string): Promise<string[]> {
  const { rows } = await client.query<{ schemaname: string; tablename: string }>('SELECT schemaname, tablename FROM pg_publication_tables WHERE pubname = $1 ORDER BY 1, 2', [name]);
  return rows.map((row) => qualified({ schema: row.schemaname, table: row.tablename }));
}
