import type pg from 'pg';
import type { Relation } from '@storx-backup/protocol';
import { createLogger } from '@storx-backup/service-kit';
import type { ReplicatorConfig } from '../config.js';
import { RelationMetadata } from '../deliver/relation-metadata.js';
import type { ReplicatorKeys } from '../replicator-keys.js';
import { catalogRelation } from '../snapshot/catalog-relation.js';
import { SourceCatalog } from '../source/source-catalog.js';
import { resolveTables } from '../source/source-tables.js';
import { type ChecklistItem, failed, passed, warned } from './checklist-item.js';
import { pingReceiver, type ReceiverTableCheck } from './receiver-ping.js';
import { connectSource } from './source-connect.js';
import { sourceTypeDdl } from './source-type-ddl.js';

const TITLE = 'the backup database can take';

/**
 * Asks the receiver whether it could apply each configured table, before `run` sends a row: the
 * tables' relation metadata, read from the source as the first table copy would send it, goes in
 * a signed ping; the receiver answers per table after preparing it as its apply would, in a
 * transaction it always rolls back. A type the backup lacks gets its DDL, read from the source.
 * A receiver that predates the question answers the ping without it: one note to upgrade it.
 */
export async function checkBackupTables(config: ReplicatorConfig, keys: ReplicatorKeys | undefined, receiverAnswers: boolean): Promise<ChecklistItem[]> {
  const tables = config.tables.join(', ');
  if (keys === undefined || !receiverAnswers) return [failed('Backuptools', `${TITLE} ${tables}: not checked (the receiver did not accept the ping above)`, [])];
  let client: pg.Client;
  try {
    client = await connectSource(config.databaseUrl);
  } catch {
    return [failed('Backuptools', `${TITLE} ${tables}: not checked (no database connection to read the tables from)`, [])];
  }
  const catalog = new SourceCatalog(config.databaseUrl, createLogger({ name: 'storx-replicator', level: 'silent' }));
  try {
    const { found } = await resolveTables(client, config.tables);
    // A partitioned table is never sent under its own name (the item above says what to do).
    const described = found.filter((table) => table.kind !== 'p');
    if (described.length === 0) return [failed('Backuptools', `${TITLE} ${tables}: not checked (none of the tables was found on the source)`, [])];
    const metadata = new RelationMetadata(catalog);
    const relations: Relation[] = [];
    for (const table of described) relations.push(await metadata.resolve(await catalogRelation(client, table)));

    const outcome = await pingReceiver(config, keys, undefined, relations);
    if (outcome.kind !== 'accepted') return [failed('Backuptools', `${TITLE} ${tables}: not checked (the receiver did not answer: ${outcome.reason})`, [])];
    if (outcome.tableChecks === null) {
      return [
        warned('Backuptools', `${TITLE} ${tables}: not checked: the receiver at ${config.webhookUrl.href} predates this check`, [
          'upgrade backuptools-receiver (the receiver first, then the replicator: docs/protocol.md); doctor then asks it whether it can take each table, and run would otherwise find out at the first batch',
        ]),
      ];
    }
    return await Promise.all(relations.map((relation, index) => itemFor(relation, described[index]!.tableSql, outcome.tableChecks!, catalog)));
  } catch (error) {
    return [failed('Backuptools', `${TITLE} ${tables}: not checked: ${(error as Error).message}`, ['check that the source database still accepts this connection, then run doctor again'])];
  } finally {
    await client.end().catch(() => undefined);
    await catalog.close();
  }
}

/** `name`: the table as the other items print it (quote_ident on the source). */
async function itemFor(relation: Relation, name: string, checks: readonly ReceiverTableCheck[], catalog: SourceCatalog): Promise<ChecklistItem> {
  const check = checks.find((candidate) => candidate.schema === relation.schema && candidate.table === relation.table);
  if (check === undefined) return failed('Backuptools', `${TITLE} ${name}: the receiver did not answer for this table`, ['compare the versions of replicator and receiver; run doctor again']);
  if (check.ok) return passed('Backuptools', `${TITLE} ${name} (the receiver prepared it as its first batch would, and rolled it back)`);
  // The statements that create the missing types, each once and in order (an extension or a
  // schema several types need comes first), then every other fix.
  const statements = new Set<string>();
  const other = new Set<string>();
  for (const problem of check.problems) {
    const ddl = problem.missingType === null ? undefined : await sourceTypeDdl(catalog, problem.missingType);
    if (ddl !== undefined) for (const statement of ddl) statements.add(statement);
    else if (problem.missingType !== null) other.add(`create type ${problem.missingType} on the backup database as on the source (a base type: install what provides it there)`);
    else other.add(problem.fix);
  }
  const fix = statements.size === 0 ? [] : ['on the backup database, as the source has them (as its owner, or a user that may create there):', ...statements];
  const messages = `${check.problems.map((problem) => problem.message).join('; ')} (${[...new Set(check.problems.map((problem) => problem.code))].join(', ')})`;
  return failed('Backuptools', `${TITLE} ${name}: ${messages}`, [...fix, ...other]);
}
