import { sql } from 'kysely';
import { quoteIdentifier, type Relation, relationKey } from '@storx-backup/protocol';
import { databaseFailure } from '../apply/database-errors.js';
import type { BackupDb } from '../db.js';
import { ReceiverError } from '../errors.js';
import { refusalFix } from '../refusals/refusal-fixes.js';
import type { TableAllowlist } from '../verify/table-allowlist.js';
import type { Executor } from './executor.js';
import { TableSync, type TableSyncOptions } from './table-sync.js';
import { TypeResolver } from './type-resolver.js';

/** What would stop one table, as the receiver would refuse it at its first batch or copy chunk. */
export interface TableProblem {
  code: string;
  message: string;
  fix: string;
  /** For a type the backup lacks: the source's `format_type` text of it, so the sender can print its DDL. */
  missing_type?: string;
}

/** The answer for one relation of a checking ping (`table_checks` in the ping reply, docs/protocol.md). */
export interface TableCheckResult {
  schema: string;
  table: string;
  ok: boolean;
  problems: TableProblem[];
}

/** How long the check waits for a lock on a backup table an apply holds, and for any statement. */
const LOCK_TIMEOUT = '3s';
const STATEMENT_TIMEOUT = '15s';

/** Thrown to end the check's transaction: the only way out of it is a rollback. */
class RolledBack extends Error {}

/**
 * Answers "could you take these tables?" for `doctor`, before `run` sends anything: each
 * relation goes through exactly what its first batch would (the allowlist, new enum labels,
 * `TableSync.prepare`: enums, types, create or alter the table, its key), in a transaction of
 * its own that is always rolled back, so nothing on the backup changes; then the privileges the
 * apply and a table copy need. A fresh TableSync each time: its cache must never hold a table
 * that only existed in a rolled-back transaction.
 *
 * While the check holds a transaction, `ALTER TABLE` (a backup table lacking source columns)
 * waits for the apply's lock at most LOCK_TIMEOUT, and holds its own for milliseconds.
 */
export class TableCheck {
  constructor(
    private readonly db: BackupDb,
    private readonly options: TableSyncOptions,
    private readonly allowlist: TableAllowlist,
  ) {}

  async check(relations: readonly Relation[]): Promise<TableCheckResult[]> {
    const results: TableCheckResult[] = [];
    const seen = new Set<string>();
    for (const relation of relations) {
      const key = relationKey(relation.schema, relation.table);
      if (seen.has(key)) continue;
      seen.add(key);
      results.push({ schema: relation.schema, table: relation.table, ...(await this.checkOne(relation)) });
    }
    return results;
  }

  private async checkOne(relation: Relation): Promise<{ ok: boolean; problems: TableProblem[] }> {
    let problems: TableProblem[];
    try {
      this.allowlist.check(relation.schema, relation.table);
      problems = await this.dryRun(relation);
    } catch (error) {
      problems = [problemOf(error)];
    }
    return { ok: problems.length === 0, problems };
  }

  private async dryRun(relation: Relation): Promise<TableProblem[]> {
    let found: TableProblem[] = [];
    try {
      await this.db.transaction().execute(async (trx) => {
        await sql`SET LOCAL lock_timeout = ${sql.lit(LOCK_TIMEOUT)}`.execute(trx);
        await sql`SET LOCAL statement_timeout = ${sql.lit(STATEMENT_TIMEOUT)}`.execute(trx);
        found = await this.problemsIn(trx, relation);
        throw new RolledBack();
      });
    } catch (error) {
      if (!(error instanceof RolledBack)) throw error;
    }
    return found;
  }

  private async problemsIn(trx: Executor, relation: Relation): Promise<TableProblem[]> {
    // Every type the backup lacks, not only the first one the apply would stop at. Enums the
    // relation describes are left to the sync below: it creates them, or says why it cannot.
    const missing = await missingTypes(trx, relation);
    if (missing.length > 0) return missing;
    const sync = new TableSync(this.options);
    try {
      // Labels first, as the apply does (there on the pool, committed; here rolled back with the rest).
      await sync.addEnumLabels(trx, [relation]);
      const target = (await sync.prepare(trx, [relation])).get(relationKey(relation.schema, relation.table))!;
      return await missingPrivileges(trx, target.schema, target.table);
    } catch (error) {
      return [problemOf(error)];
    }
  }
}

/** The relation's column types the backup cannot resolve, except the enums the relation carries. */
async function missingTypes(db: Executor, relation: Relation): Promise<TableProblem[]> {
  const enums = new Set((relation.enum_types ?? []).map((enumType) => enumType.type));
  const resolver = new TypeResolver();
  const problems: TableProblem[] = [];
  const reported = new Set<string>();
  for (const column of relation.columns) {
    const element = column.type.replace(/(?:\[\])+$/, '');
    if (enums.has(element) || reported.has(element)) continue;
    try {
      await resolver.resolve(db, column.type, `column ${quoteIdentifier(column.name)}`);
    } catch (error) {
      if (!(error instanceof ReceiverError)) throw error;
      reported.add(element);
      problems.push({
        code: 'TABLE_INCOMPATIBLE',
        message: `type ${element} (column ${quoteIdentifier(column.name)}) does not exist on the backup database`,
        fix: `create type ${element} on the backup database as it is on the source (the receiver creates enums, but never a domain, composite, range, extension or base type)`,
        missing_type: element,
      });
    }
  }
  return problems;
}

/** A table copy truncates and inserts, the stream upserts and deletes: each privilege is needed. */
const PRIVILEGES = ['SELECT', 'INSERT', 'UPDATE', 'DELETE', 'TRUNCATE'] as const;

async function missingPrivileges(db: Executor, schema: string, table: string): Promise<TableProblem[]> {
  const name = `${quoteIdentifier(schema)}.${quoteIdentifier(table)}`;
  const { rows } = await sql<{ privilege: string; held: boolean; user: string }>`
    SELECT p.privilege, has_table_privilege(format('%I.%I', ${schema}::text, ${table}::text), p.privilege) AS held, quote_ident(current_user) AS "user"
    FROM unnest(${[...PRIVILEGES]}::text[]) WITH ORDINALITY AS p(privilege, ord) ORDER BY p.ord`.execute(db);
  const lacking = rows.filter((row) => !row.held).map((row) => row.privilege);
  if (lacking.length === 0) return [];
  const user = rows[0]!.user;
  return [
    {
      code: 'APPLY_REJECTED',
      message: `the receiver's database user ${user} lacks ${lacking.join(', ')} on backup table ${name}`,
      fix: `GRANT ${lacking.join(', ')} ON ${name} TO ${user};`,
    },
  ];
}

function problemOf(error: unknown): TableProblem {
  const refusal = databaseFailure(error);
  return { code: refusal.code, message: refusal.message, fix: refusal.status < 500 ? refusalFix(refusal.code) : "check the receiver's log and its database, then run doctor again" };
}
