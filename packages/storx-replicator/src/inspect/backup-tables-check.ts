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

/** One configured table as the receiver answered for it. */
export interface BackupTableAnswer {
  /** The table as the other items print it (quote_ident on the source). */
  name: string;
  ok: boolean;
  /** What the receiver found, with its codes (null when ok). */
  problem: string | null;
  /** What to do, one line each: the statements that create what the backup lacks (read from the source), then any other fix. */
  fix: string[];
  /**
   * The receiver could not check (its database unreachable or overloaded, an internal error):
   * says nothing about the table, so status reports it as a warning, not as a table it refuses.
   */
  transient: boolean;
}

/** The receiver's codes for a check it could not make (its 5xx answers). */
const TRANSIENT_CODES = new Set(['DATABASE_UNAVAILABLE', 'INTERNAL']);

/**
 * The receiver's answer to "could you apply each configured table?", or why it was not asked:
 * - answered: one entry per table sent;
 * - predates: the receiver answered the ping without the question (an older receiver);
 * - not_checked: the tables could not be read, or the receiver did not answer.
 */
export type BackupTablesAnswer =
  | { kind: 'answered'; tables: BackupTableAnswer[] }
  | { kind: 'predates'; reason: string; fix: string[] }
  | { kind: 'not_checked'; reason: string; fix: string[] };

/**
 * Asks the receiver whether it could apply each configured table, before `run` sends a row: the
 * tables' relation metadata, read from the source as the first table copy would send it, goes in
 * a signed ping; the receiver answers per table after preparing it as its apply would, in a
 * transaction it always rolls back. A type the backup lacks gets its DDL, read from the source.
 * doctor and status both ask it.
 */
export async function askBackupTables(config: ReplicatorConfig, keys: ReplicatorKeys): Promise<BackupTablesAnswer> {
  let client: pg.Client;
  try {
    client = await connectSource(config.databaseUrl);
  } catch {
    return { kind: 'not_checked', reason: 'no database connection to read the tables from', fix: [] };
  }
  const catalog = new SourceCatalog(config.databaseUrl, createLogger({ name: 'storx-replicator', level: 'silent' }));
  try {
    const { found } = await resolveTables(client, config.tables);
    // A partitioned table is never sent under its own name (doctor's item about it says what to do).
    const described = found.filter((table) => table.kind !== 'p');
    if (described.length === 0) return { kind: 'not_checked', reason: 'none of the tables was found on the source', fix: [] };
    const metadata = new RelationMetadata(catalog);
    const relations: Relation[] = [];
    for (const table of described) relations.push(await metadata.resolve(await catalogRelation(client, table)));

    const outcome = await pingReceiver(config, keys, undefined, relations);
    if (outcome.kind !== 'accepted') return { kind: 'not_checked', reason: `the receiver did not answer: ${outcome.reason}`, fix: [] };
    if (outcome.tableChecks === null) {
      return {
        kind: 'predates',
        reason: `the receiver at ${config.webhookUrl.href} predates this check`,
        fix: ['upgrade backuptools-receiver (the receiver first, then the replicator: docs/protocol.md); doctor then asks it whether it can take each table, and run would otherwise find out at the first batch'],
      };
    }
    const tables = await Promise.all(relations.map((relation, index) => answerFor(relation, described[index]!.tableSql, outcome.tableChecks!, catalog)));
    return { kind: 'answered', tables };
  } catch (error) {
    return { kind: 'not_checked', reason: `reading the source failed: ${(error as Error).message}`, fix: ['check that the source database still accepts this connection, then check again'] };
  } finally {
    await client.end().catch(() => undefined);
    await catalog.close();
  }
}

/** doctor's items: one per table, or one saying why the tables were not checked. `receiverAnswers`: the plain ping above was accepted. */
export async function checkBackupTables(config: ReplicatorConfig, keys: ReplicatorKeys | undefined, receiverAnswers: boolean): Promise<ChecklistItem[]> {
  const tables = config.tables.join(', ');
  if (keys === undefined || !receiverAnswers) return [failed('Backuptools', `${TITLE} ${tables}: not checked (the receiver did not accept the ping above)`, [])];
  const answer = await askBackupTables(config, keys);
  if (answer.kind === 'predates') return [warned('Backuptools', `${TITLE} ${tables}: not checked: ${answer.reason}`, answer.fix)];
  if (answer.kind === 'not_checked') return [failed('Backuptools', `${TITLE} ${tables}: not checked (${answer.reason})`, answer.fix)];
  return answer.tables.map((table) =>
    table.ok ? passed('Backuptools', `${TITLE} ${table.name} (the receiver prepared it as its first batch would, and rolled it back)`) : failed('Backuptools', `${TITLE} ${table.name}: ${table.problem ?? ''}`, table.fix),
  );
}

/** `name`: the table as the other items print it (quote_ident on the source). */
async function answerFor(relation: Relation, name: string, checks: readonly ReceiverTableCheck[], catalog: SourceCatalog): Promise<BackupTableAnswer> {
  const check = checks.find((candidate) => candidate.schema === relation.schema && candidate.table === relation.table);
  if (check === undefined) return { name, ok: false, problem: 'the receiver did not answer for this table', fix: ['compare the versions of replicator and receiver; check again'], transient: false };
  if (check.ok) return { name, ok: true, problem: null, fix: [], transient: false };
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
  const problem = `${check.problems.map((entry) => entry.message).join('; ')} (${[...new Set(check.problems.map((entry) => entry.code))].join(', ')})`;
  return { name, ok: false, problem, fix: [...fix, ...other], transient: check.problems.every((entry) => TRANSIENT_CODES.has(entry.code)) };
}
