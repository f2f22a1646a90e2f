import { sql } from 'kysely';
import { type EnumType, quoteIdentifier, type Relation } from '@storx-backup/protocol';
import { ReceiverError } from '../errors.js';
import { type EnumLabelStep, planEnumLabels } from './enum-labels.js';
import type { Executor } from './executor.js';

export interface EnumSyncOptions {
  autoCreateTables: boolean;
  /** Source schema → backup schema. */
  targetSchema: (sourceSchema: string) => string;
  /** The backup schema of the relation's table: the only schema an enum may be created or altered in. */
  tableSchema: string;
  where: string;
}

const KINDS: Record<string, string> = { b: 'a base type', c: 'a composite type', d: 'a domain', e: 'an enum', m: 'a multirange', p: 'a pseudo-type', r: 'a range' };

/**
 * Makes sure each enum a relation's columns use exists on the backup with the source's labels
 * in the source's order (or more: labels the backup gained first), creating a missing one when
 * auto-create-tables is on. Returns the column types rewritten to the backup's name of each enum
 * (which differs from the source's when schema-mapping moves its schema). Only enums are built:
 * a domain, composite, range or base type carries rules (checks, defaults, I/O functions) this
 * metadata does not describe, so those must exist on the backup already (TypeResolver names them
 * when they do not). Labels the source added are not added here but by `addEnumLabels`, before
 * the batch's transaction: a label cannot be used in the transaction that added it.
 */
export async function syncEnumTypes(db: Executor, relation: Relation, options: EnumSyncOptions): Promise<Map<string, string>> {
  const columnTypes = new Map(relation.columns.map((column) => [column.name, column.type]));
  for (const wanted of relation.enum_types ?? []) {
    const schema = options.targetSchema(wanted.schema);
    const backupName = schema === wanted.schema ? wanted.type : `${quoteIdentifier(schema)}.${quoteIdentifier(wanted.name)}`;
    await ensureEnum(db, wanted, schema, backupName, options);
    if (backupName === wanted.type) continue;
    for (const [column, type] of columnTypes) {
      if (type === wanted.type || type.startsWith(`${wanted.type}[`)) columnTypes.set(column, backupName + type.slice(wanted.type.length));
    }
  }
  return columnTypes;
}

/**
 * Adds to the backup's enums the labels the source's gained (`ALTER TYPE ... ADD VALUE`), each
 * statement committed on its own: `db` must be the pool, never the batch's transaction, and this
 * runs before that transaction. Only with auto-create-tables, only for an enum in the table's
 * own schema, and only when the backup's labels are an ordered subsequence of the source's;
 * anything else is left as it is for `syncEnumTypes` to refuse with its fix.
 */
export async function addEnumLabels(db: Executor, relation: Relation, options: EnumSyncOptions): Promise<void> {
  if (!options.autoCreateTables) return;
  for (const wanted of relation.enum_types ?? []) {
    const schema = options.targetSchema(wanted.schema);
    if (schema !== options.tableSchema) continue;
    const existing = await readBackupType(db, schema, wanted.name);
    if (existing?.kind !== 'e') continue;
    const plan = planEnumLabels(existing.labels, wanted.labels);
    if (plan.kind !== 'add') continue;
    // IF NOT EXISTS: another request may add the same label at the same time.
    for (const step of plan.steps) await sql`ALTER TYPE ${sql.id(schema, wanted.name)} ADD VALUE IF NOT EXISTS ${sql.raw(literal(step.label))}${sql.raw(placement(step))}`.execute(db);
  }
}

async function readBackupType(db: Executor, schema: string, name: string): Promise<{ kind: string; labels: string[] } | undefined> {
  const { rows } = await sql<{ kind: string; labels: string[] }>`
    SELECT t.typtype AS kind, array(SELECT l.enumlabel::text FROM pg_enum l WHERE l.enumtypid = t.oid ORDER BY l.enumsortorder) AS labels
    FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
    WHERE n.nspname = ${schema} AND t.typname = ${name}`.execute(db);
  return rows[0];
}

async function ensureEnum(db: Executor, wanted: EnumType, schema: string, backupName: string, options: EnumSyncOptions): Promise<void> {
  const name = `${quoteIdentifier(schema)}.${quoteIdentifier(wanted.name)}`;
  const existing = await readBackupType(db, schema, wanted.name);
  if (existing !== undefined) {
    if (existing.kind !== 'e') {
      throw new ReceiverError('TABLE_INCOMPATIBLE', `${options.where}: type ${name} is ${KINDS[existing.kind] ?? `of kind ${existing.kind}`} on the backup but an enum on the source; drop or rename one of them`);
    }
    const plan = planEnumLabels(existing.labels, wanted.labels);
    if (plan.kind === 'same' || plan.kind === 'backup-ahead') return;
    const both = `enum ${name} has labels (${existing.labels.map(literal).join(', ')}) on the backup but (${wanted.labels.map(literal).join(', ')}) on the source`;
    if (plan.kind === 'differs') {
      throw new ReceiverError('TABLE_INCOMPATIBLE', `${options.where}: ${both}: a label was renamed or removed, or their order differs; make the backup's agree (ALTER TYPE ${name} RENAME VALUE ..., or create the type again with the source's labels) before replication can continue`);
    }
    // Labels the source added that addEnumLabels did not add (auto-create-tables is off, or
    // the enum is outside the table's schema): the operator adds them.
    const why = options.autoCreateTables ? `the receiver adds labels only to enums in the table's schema ${quoteIdentifier(options.tableSchema)}` : 'auto-create-tables is off';
    throw new ReceiverError('TABLE_INCOMPATIBLE', `${options.where}: ${both} (${why}); add the source's new labels on the backup: ${plan.steps.map((step) => addValueStatement(name, step)).join('; ')}`);
  }
  if (!options.autoCreateTables) {
    throw new ReceiverError('TABLE_INCOMPATIBLE', `${options.where}: enum ${backupName} does not exist on the backup database; create it there (CREATE TYPE ${name} AS ENUM (${wanted.labels.map(literal).join(', ')})), or turn on auto-create-tables`);
  }
  // Only in the schema of the table being synced (which the configuration names): a signed
  // sender must not be able to place types in any other schema that happens to exist, such as
  // public or the receiver's own state schema.
  if (schema !== options.tableSchema) {
    throw new ReceiverError('TABLE_INCOMPATIBLE', `${options.where}: enum ${name} does not exist on the backup and lives in schema ${quoteIdentifier(schema)}, not in the table's schema ${quoteIdentifier(options.tableSchema)}; the receiver creates enums only in the schema of the table that uses them: create it there first (CREATE TYPE ${name} AS ENUM (${wanted.labels.map(literal).join(', ')}))`);
  }
  await sql`CREATE SCHEMA IF NOT EXISTS ${sql.id(schema)}`.execute(db);
  // Labels are sender text placed in DDL (CREATE TYPE takes no parameters): each is an
  // E'' literal with every backslash and quote escaped, which reads back as exactly the label
  // whatever standard_conforming_strings is.
  await sql`CREATE TYPE ${sql.id(schema, wanted.name)} AS ENUM (${sql.raw(wanted.labels.map(literal).join(', '))})`.execute(db);
}

/** The statement, for an operator to run. */
function addValueStatement(name: string, step: EnumLabelStep): string {
  return `ALTER TYPE ${name} ADD VALUE IF NOT EXISTS ${literal(step.label)}${placement(step)}`;
}

function placement(step: EnumLabelStep): string {
  if (step.place === undefined) return '';
  return 'before' in step.place ? ` BEFORE ${literal(step.place.before)}` : ` AFTER ${literal(step.place.after)}`;
}

function literal(label: string): string {
  return `E'${label.replaceAll('\\', '\\\\').replaceAll("'", "\\'")}'`;
}
