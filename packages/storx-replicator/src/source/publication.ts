import type pg from 'pg';
import type { Logger } from '@storx-backup/service-kit';
import { ReplicatorError } from '../errors.js';
import { judgePublication, readPublicationFacts } from './publication-access.js';
import { qualified, type SourceTable } from './source-tables.js';

/**
 * Makes the publication publish exactly the configured tables: creates it when missing, and
 * reconciles its table list when it differs (ALTER PUBLICATION ... SET TABLE). A FOR ALL TABLES
 * publication is left alone: changes to other tables are filtered out by the replicator. What
 * this user may not do stops run with the statement the owner runs (the same words as doctor).
 */
export async function ensurePublication(client: pg.Client, name: string, tables: readonly SourceTable[], logger: Logger): Promise<void> {
  const facts = await readPublicationFacts(client, name);
  const verdict = judgePublication(facts, tables);
  if (!verdict.ok) throw new ReplicatorError(verdict.code, verdict.message, { fix: verdict.fix });
  const list = tables.map(qualified).join(', ');
  // `name` was validated as [a-z_][a-z0-9_]*: safe as an identifier.
  switch (verdict.action) {
    case 'none':
      if (facts.allTables) logger.warn({ publication: name }, 'publication is FOR ALL TABLES: changes to tables outside replication.tables are decoded and dropped');
      return;
    case 'create':
      await client.query(`CREATE PUBLICATION ${name} FOR TABLE ${list}`).catch((cause: unknown) => {
        throw new ReplicatorError('PUBLICATION_MISSING', `publication ${name} could not be created: ${(cause as Error).message}`, { cause, fix: [`-- as the tables' owner (or a superuser), once:`, `CREATE PUBLICATION ${name} FOR TABLE ${list};`] });
      });
      logger.info({ publication: name, tables: tables.map(qualified) }, 'publication created');
      return;
    case 'alter':
      await client.query(`ALTER PUBLICATION ${name} SET TABLE ${list}`).catch((cause: unknown) => {
        throw new ReplicatorError('PUBLICATION_MISMATCH', `publication ${name} could not be changed: ${(cause as Error).message}`, { cause, fix: [`-- as the publication's and the tables' owner (or a superuser):`, `ALTER PUBLICATION ${name} SET TABLE ${list};`] });
      });
      logger.warn({ publication: name, before: facts.published, after: tables.map(qualified) }, 'publication tables reconciled');
      return;
  }
}

/** The publication's tables as `"schema"."table"`, or [] when it does not exist. */
export async function publicationTables(client: pg.Client, name: string): Promise<string[]> {
  return (await readPublicationFacts(client, name)).published;
}
