import { sql } from 'kysely';
import type pg from 'pg';
import type { BackupTransaction } from '../db.js';
import type { TargetTable } from '../schema/target-table.js';
import { copyIn } from './copy-in.js';
import { copyTextChunks } from './copy-text.js';
import { MAX_RUN_ROWS, type Run } from './runs.js';
import { executeRun } from './statements.js';

/**
 * Fewest rows a run needs to go through COPY. COPY costs two more round trips (SAVEPOINT,
 * RELEASE) than the set-based upsert and saves ~10 µs of backend and client CPU per row, so
 * short runs stay with the upsert; it also keeps interleaved small runs from opening a
 * subtransaction each.
 */
export const COPY_MIN_ROWS = 32;

/**
 * Most COPYs (each in a savepoint, hence a subtransaction with its own XID) one transaction
 * makes; further insert runs use the upsert. PostgreSQL caches 64 subtransaction XIDs per
 * backend; past that every snapshot taken on the backup while the batch runs (and on its
 * standbys) must consult pg_subtrans, a known way to slow a whole cluster down.
 */
export const MAX_COPIES_PER_TRANSACTION = 48;

/** unique_violation and exclusion_violation: the rows (or some) are already there. */
const CONFLICTS = new Set(['23505', '23P01']);

/**
 * Executes one transaction's runs, in order. A run made only of INSERTs goes through
 * `COPY table (columns) FROM STDIN`, in the batch's own transaction (so the rows commit with the
 * watermark, or not at all), behind a savepoint: when the rows conflict with rows already there
 * (a batch replayed after a crash, a table copy meeting rows the stream wrote) the savepoint is
 * rolled back and the run is applied with the set-based upsert, whose effect equals applying the
 * events one by one. A table that conflicted once in this transaction skips COPY for the rest of
 * it: a replayed batch pays one failed COPY per table, not one per run.
 *
 * Everything else goes through `executeRun` unchanged.
 */
export class RunExecutor {
  private readonly conflicted = new Set<TargetTable>();
  private copies = 0;

  constructor(
    private readonly trx: BackupTransaction,
    private readonly client: pg.ClientBase,
  ) {}

  async execute(run: Run): Promise<void> {
    if (run.kind !== 'upsert' || !this.copiesRun(run)) return executeInSlices(this.trx, run);
    this.copies++;
    await sql`SAVEPOINT copy_run`.execute(this.trx);
    try {
      const { table, columns } = run;
      const statement = sql`COPY ${sql.id(table.schema, table.table)} (${sql.join(columns.map((column) => sql.id(column)))}) FROM STDIN`.compile(this.trx).sql;
      await copyIn(this.client, statement, copyTextChunks(run.rows, columns));
    } catch (error) {
      if (!CONFLICTS.has((error as { code?: unknown }).code as string)) throw error;
      await sql`ROLLBACK TO SAVEPOINT copy_run`.execute(this.trx);
      await sql`RELEASE SAVEPOINT copy_run`.execute(this.trx);
      this.conflicted.add(run.table);
      return executeInSlices(this.trx, run);
    }
    await sql`RELEASE SAVEPOINT copy_run`.execute(this.trx);
  }

  private copiesRun(run: Run & { kind: 'upsert' }): boolean {
    return run.inserts && run.table.copyable && run.rows.length >= COPY_MIN_ROWS && this.copies < MAX_COPIES_PER_TRANSACTION && !this.conflicted.has(run.table);
  }
}

/**
 * A run through its set-based statement, MAX_RUN_ROWS rows at a time: an insert run may be longer
 * (COPY frees the event loop between chunks). Cutting is safe: the slices apply in order, so a
 * key repeated across two slices ends with its last row; a table without a key takes plain
 * INSERTs, in order.
 */
export async function executeInSlices(trx: BackupTransaction, run: Run): Promise<void> {
  if (run.kind !== 'upsert' || run.rows.length <= MAX_RUN_ROWS) return executeRun(trx, run);
  for (let start = 0; start < run.rows.length; start += MAX_RUN_ROWS) {
    await executeRun(trx, { ...run, rows: run.rows.slice(start, start + MAX_RUN_ROWS) });
  }
}
