import { sql } from 'kysely';
import { quoteIdentifier, type Relation, relationKey } from '@storx-backup/protocol';
import { ReceiverError } from '../errors.js';
import type { Executor } from './executor.js';
import { addEnumLabels, type EnumSyncOptions, syncEnumTypes } from './enum-types.js';
import { BREAKS_QUOTING } from './refused-names.js';
import { readTargetTable, type TargetTable } from './target-table.js';
import { TypeResolver } from './type-resolver.js';

export interface TableSyncOptions {
  autoCreateTables: boolean;
  /** Source schema → backup schema; unmapped schemas keep their name. */
  schemaMapping: ReadonlyMap<string, string>;
  /** The receiver's own schema: never written as a backup table's (or its enums') schema. */
  stateSchema: string;
}

/**
 * Makes sure each backup table can hold its source relation's rows before a batch touches it:
 * creates a missing table (columns, NOT NULL, primary key) and the enums it uses, and adds new
 * source columns when allowed; refuses a type or key that differs (TABLE_INCOMPATIBLE, nothing applied).
 *
 * Results are cached by the relation metadata's exact text. DDL runs in the batch's own
 * transaction, so the caller must call `invalidate()` when that transaction fails.
 */
export class TableSync {
  private readonly cache = new Map<string, TargetTable>();
  /** Enum descriptions whose labels `addEnumLabels` found on the backup (or added). */
  private readonly labelsChecked = new Set<string>();
  private readonly types = new TypeResolver();

  constructor(private readonly options: TableSyncOptions) {}

  targetSchema(sourceSchema: string): string {
    return this.options.schemaMapping.get(sourceSchema) ?? sourceSchema;
  }

  /** Target tables by `relationKey(source schema, table)`. */
  async prepare(db: Executor, relations: readonly Relation[]): Promise<Map<string, TargetTable>> {
    const prepared = new Map<string, TargetTable>();
    for (const relation of relations) {
      const signature = JSON.stringify(relation);
      let target = this.cache.get(signature);
      if (target === undefined) {
        target = await this.sync(db, relation);
        this.cache.set(signature, target);
      }
      prepared.set(relationKey(relation.schema, relation.table), target);
    }
    return prepared;
  }

  /**
   * Before a batch's transaction, on the pool (never in a transaction): adds the labels the
   * source's enums gained, each committed on its own, since PostgreSQL refuses a label in the
   * transaction that added it. An enum description is checked once, until `invalidate()`.
   */
  async addEnumLabels(db: Executor, relations: readonly Relation[]): Promise<void> {
    for (const relation of relations) {
      if (relation.enum_types === undefined) continue;
      const signature = JSON.stringify([relation.schema, relation.table, relation.enum_types]);
      if (this.labelsChecked.has(signature)) continue;
      const options = this.enumOptions(relation);
      // A table in the state schema is refused by sync(); nothing is altered for it.
      if (options.tableSchema !== this.options.stateSchema) await addEnumLabels(db, relation, options);
      this.labelsChecked.add(signature);
    }
  }

  invalidate(): void {
    this.cache.clear();
    this.labelsChecked.clear();
    // A type created in the failed transaction is gone with it.
    this.types.invalidate();
  }

  private async sync(db: Executor, relation: Relation): Promise<TargetTable> {
    const schema = this.targetSchema(relation.schema);
    const where = `backup table ${quoteIdentifier(schema)}.${quoteIdentifier(relation.table)}`;
    if (schema === this.options.stateSchema) {
      throw new ReceiverError('TABLE_INCOMPATIBLE', `${where}: schema ${quoteIdentifier(schema)} is the receiver's own state schema; map the source schema elsewhere (schema-mapping)`);
    }
    for (const name of [schema, relation.table, ...relation.columns.map((column) => column.name)]) {
      if (BREAKS_QUOTING.test(name)) {
        throw new ReceiverError('TABLE_INCOMPATIBLE', `${where}: the name ${JSON.stringify(name)} is refused (quotes, semicolons, backslashes, "--" and control characters are not accepted in names)`);
      }
    }
    // Enums first (created when missing and allowed): the column types may name them.
    const columnTypes = await syncEnumTypes(db, relation, this.enumOptions(relation));
    const wanted = new Map<string, string>();
    for (const column of relation.columns) wanted.set(column.name, await this.types.resolve(db, columnTypes.get(column.name)!, `${where}, column ${quoteIdentifier(column.name)}`));

    let target = await readTargetTable(db, schema, relation.table);
    if (target === undefined) {
      if (!this.options.autoCreateTables) {
        throw new ReceiverError('TABLE_INCOMPATIBLE', `${where} does not exist; create it, or turn on auto-create-tables`);
      }
      await createTable(db, schema, relation, wanted);
    } else {
      const missing = relation.columns.filter((column) => !target!.columns.has(column.name));
      for (const column of relation.columns) {
        const actual = target.columns.get(column.name);
        if (actual !== undefined && actual !== wanted.get(column.name)) {
          throw new ReceiverError('TABLE_INCOMPATIBLE', `${where}: column ${quoteIdentifier(column.name)} is ${actual} on the backup but ${wanted.get(column.name)} on the source; change one of them so they agree`);
        }
      }
      if (missing.length > 0 && !this.options.autoCreateTables) {
        throw new ReceiverError('TABLE_INCOMPATIBLE', `${where} lacks source column(s) ${missing.map((column) => quoteIdentifier(column.name)).join(', ')}; add them, or turn on auto-create-tables`);
      }
      for (const column of missing) {
        // Added as nullable: rows already in the table have no value for it.
        await sql`ALTER TABLE ${sql.id(schema, relation.table)} ADD COLUMN ${sql.id(column.name)} ${sql.raw(wanted.get(column.name)!)}`.execute(db);
      }
    }
    target = (await readTargetTable(db, schema, relation.table))!;
    checkKey(target, relation, where);
    return target;
  }

  private enumOptions(relation: Relation): EnumSyncOptions {
    const schema = this.targetSchema(relation.schema);
    return { autoCreateTables: this.options.autoCreateTables, targetSchema: (source) => this.targetSchema(source), tableSchema: schema, where: `backup table ${quoteIdentifier(schema)}.${quoteIdentifier(relation.table)}` };
  }
}

async function createTable(db: Executor, schema: string, relation: Relation, types: ReadonlyMap<string, string>): Promise<void> {
  const columns = relation.columns.map(
    // `types` holds the backup server's own spelling of each type (see TypeResolver).
    (column) => sql`${sql.id(column.name)} ${sql.raw(types.get(column.name)!)}${column.not_null ? sql` NOT NULL` : sql``}`,
  );
  const key = relation.key_columns.length > 0 ? [sql`PRIMARY KEY (${sql.join(relation.key_columns.map((name) => sql.id(name)))})`] : [];
  await sql`CREATE SCHEMA IF NOT EXISTS ${sql.id(schema)}`.execute(db);
  await sql`CREATE TABLE ${sql.id(schema, relation.table)} (${sql.join([...columns, ...key])})`.execute(db);
}

function checkKey(target: TargetTable, relation: Relation, where: string): void {
  const source = [...relation.key_columns].sort();
  const backup = [...target.key].sort();
  // A keyless source (REPLICA IDENTITY FULL) sends whole old rows: they are matched by the backup's
  // key when it has one (NOT NULL columns: see TargetTable.key), else by the whole old value.
  if (source.length === 0) return;
  if (source.join('\0') !== backup.join('\0')) {
    const backupText = backup.length === 0 ? 'has no primary key or unique index on NOT NULL columns' : `is keyed by (${target.key.map(quoteIdentifier).join(', ')})`;
    throw new ReceiverError('TABLE_INCOMPATIBLE', `${where} ${backupText} but the source is keyed by (${relation.key_columns.map(quoteIdentifier).join(', ')}); give the backup table the same primary key`);
  }
}
