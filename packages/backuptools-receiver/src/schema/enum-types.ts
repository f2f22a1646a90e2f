import { sql } from 'kysely';
import type { EnumType, Relation } from '@storx-backup/protocol';
import { ReceiverError } from '../errors.js';
import type { Executor } from './executor.js';

export interface EnumSyncOptions {
  autoCreateTables: boolean;
  /** Source schema → backup schema. */
  targetSchema: (sourceSchema: string) => string;
  /** The backup schema of the relation's table: the only schema an enum may be created in. */
  tableSchema: string;
  where: string;
}

const KINDS: Record<string, string> = { b: 'a base type', c: 'a composite type', d: 'a domain', e: 'an enum', m: 'a multirange', p: 'a pseudo-type', r: 'a range' };

/**
 * Makes sure each enum a relation's columns use exists on the backup with the source's labels
 * in the source's order, creating a missing one when auto-create-tables is on. Returns the
 * column types rewritten to the backup's name of each enum (which differs from the source's
 * when schema-mapping moves its schema). Only enums are built: a domain, composite, range or
 * base type carries rules (checks, defaults, I/O functions) this metadata does not describe,
 * so those must exist on the backup already (TypeResolver names them when they do not).
 */
export async function syncEnumTypes(db: Executor, relation: Relation, options: EnumSyncOptions): Promise<Map<string, string>> {
  const columnTypes = new Map(relation.columns.map((column) => [column.name, column.type]));
  for (const wanted of relation.enum_types ?? []) {
    const schema = options.targetSchema(wanted.schema);
    const backupName = schema === wanted.schema ? wanted.type : `${quoted(schema)}.${quoted(wanted.name)}`;
    await ensureEnum(db, wanted, schema, backupName, options);
    if (backupName === wanted.type) continue;
    for (const [column, type] of columnTypes) {
      if (type === wanted.type || type.startsWith(`${wanted.type}[`)) columnTypes.set(column, backupName + type.slice(wanted.type.length));
    }
  }
  return columnTypes;
}

async function ensureEnum(db: Executor, wanted: EnumType, schema: string, backupName: string, options: EnumSyncOptions): Promise<void> {
  const name = `${quoted(schema)}.${quoted(wanted.name)}`;
  const { rows } = await sql<{ kind: string; labels: string[] }>`
    SELECT t.typtype AS kind, array(SELECT l.enumlabel::text FROM pg_enum l WHERE l.enumtypid = t.oid ORDER BY l.enumsortorder) AS labels
    FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
    WHERE n.nspname = ${schema} AND t.typname = ${wanted.name}`.execute(db);
  const existing = rows[0];
  if (existing !== undefined) {
    if (existing.kind !== 'e') {
      throw new ReceiverError('TABLE_INCOMPATIBLE', `${options.where}: type ${name} is ${KINDS[existing.kind] ?? `of kind ${existing.kind}`} on the backup but an enum on the source; drop or rename one of them`);
    }
    if (existing.labels.join('\0') !== wanted.labels.join('\0')) {
      const missing = wanted.labels.filter((label) => !existing.labels.includes(label));
      const hint = missing.length > 0 && existing.labels.every((label) => wanted.labels.includes(label))
        ? `add the missing label(s) on the backup in the source's order (ALTER TYPE ${name} ADD VALUE ${literal(missing[0]!)} ...)`
        : 'make the two agree (labels and their order) before replication can continue';
      throw new ReceiverError('TABLE_INCOMPATIBLE', `${options.where}: enum ${name} has labels (${existing.labels.map(literal).join(', ')}) on the backup but (${wanted.labels.map(literal).join(', ')}) on the source: ${hint}`);
    }
    return;
  }
  if (!options.autoCreateTables) {
    throw new ReceiverError('TABLE_INCOMPATIBLE', `${options.where}: enum ${backupName} does not exist on the backup database; create it there (CREATE TYPE ${name} AS ENUM (${wanted.labels.map(literal).join(', ')})), or turn on auto-create-tables`);
  }
  // Only in the schema of the table being synced (which the configuration names): a signed
  // sender must not be able to place types in any other schema that happens to exist, such as
  // public or the receiver's own state schema.
  if (schema !== options.tableSchema) {
    throw new ReceiverError('TABLE_INCOMPATIBLE', `${options.where}: enum ${name} does not exist on the backup and lives in schema ${quoted(schema)}, not in the table's schema ${quoted(options.tableSchema)}; the receiver creates enums only in the schema of the table that uses them: create it there first (CREATE TYPE ${name} AS ENUM (${wanted.labels.map(literal).join(', ')}))`);
  }
  await sql`CREATE SCHEMA IF NOT EXISTS ${sql.id(schema)}`.execute(db);
  // Labels are sender text placed in DDL (CREATE TYPE takes no parameters): each is an
  // E'' literal with every backslash and quote escaped, which reads back as exactly the label
  // whatever standard_conforming_strings is.
  await sql`CREATE TYPE ${sql.id(schema, wanted.name)} AS ENUM (${sql.raw(wanted.labels.map(literal).join(', '))})`.execute(db);
}

function literal(label: string): string {
  return `E'${label.replaceAll('\\', '\\\\').replaceAll("'", "\\'")}'`;
}

function quoted(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}
