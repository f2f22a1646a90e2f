import { type Batch, type ChangeEvent, copyTextRows, type CopySection, isProtocolError } from '@storx-backup/protocol';
import { sql } from 'kysely';
import type pg from 'pg';
import type { BackupTransaction } from '../db.js';
import { ReceiverError } from '../errors.js';
import type { TargetTable } from '../schema/target-table.js';
import { copyIn } from './copy-in.js';
import { groupIntoRuns } from './runs.js';
import { RunExecutor } from './run-executor.js';

/**
 * Bytes of COPY data written to the connection at a time: views into the request body, so
 * nothing is copied; the event loop turns between two slices.
 */
const SLICE_BYTES = 256 * 1024;
/** bad_copy_file_format: a line with too many or too few fields, a corrupt end-of-data marker. */
const BAD_COPY_FORMAT = '22P04';

/**
 * Applies a table copy chunk whose rows are COPY text (docs/protocol.md, "Copy chunks"), in the
 * chunk's transaction. A table COPY can write into takes the bytes as they came, through
 * `COPY table (columns) FROM STDIN`, and must take exactly the rows the chunk declares: a
 * shortfall (data PostgreSQL read as ending early) refuses the chunk, and the transaction rolls
 * back. A table it cannot (rules, row-level security: `copyable` false) gets the rows decoded
 * and applied as the INSERT events a JSON chunk would carry, through the same statements.
 */
export async function applyCopySection(trx: BackupTransaction, client: pg.ClientBase, target: TargetTable, batch: Batch, copy: CopySection): Promise<void> {
  if (!target.copyable) return applyAsEvents(trx, client, target, batch, copy);
  const statement = sql`COPY ${sql.id(target.schema, target.table)} (${sql.join(copy.columns.map((column) => sql.id(column)))}) FROM STDIN`.compile(trx).sql;
  let copied: number;
  try {
    copied = await copyIn(client, statement, slices(copy.data));
  } catch (error) {
    if ((error as { code?: unknown }).code === BAD_COPY_FORMAT) {
      throw new ReceiverError('COPY_DATA_INVALID', `copy of ${target.schema}.${target.table}: PostgreSQL could not read the COPY data: ${(error as Error).message} (SQLSTATE ${BAD_COPY_FORMAT})`, { cause: error });
    }
    throw error;
  }
  if (copied !== copy.rows) throw new ReceiverError('COPY_DATA_INVALID', `copy of ${target.schema}.${target.table}: PostgreSQL read ${copied} rows from COPY data that declares ${copy.rows}`);
}

function* slices(data: readonly Uint8Array[]): Generator<Buffer> {
  for (const piece of data) {
    const bytes = Buffer.from(piece.buffer, piece.byteOffset, piece.byteLength);
    for (let at = 0; at < bytes.length; at += SLICE_BYTES) yield bytes.subarray(at, at + SLICE_BYTES);
  }
}

async function applyAsEvents(trx: BackupTransaction, client: pg.ClientBase, target: TargetTable, batch: Batch, copy: CopySection): Promise<void> {
  const snapshot = batch.snapshot!;
  const events: ChangeEvent[] = [];
  const timestamp = new Date().toISOString();
  try {
    for (const piece of copy.data) {
      for (const values of copyTextRows(piece, copy.columns.length)) {
        // No prototype: a column may be called anything, `__proto__` included.
        const data = Object.create(null) as Record<string, string | null>;
        copy.columns.forEach((column, index) => (data[column] = values[index]!));
        events.push({ operation: 'INSERT', schema: snapshot.schema, table: snapshot.table, timestamp, lsn: snapshot.image_lsn, commit_lsn: snapshot.image_lsn, xid: 0, seq: events.length, data, old_data: null, unchanged_toast: [] });
      }
    }
  } catch (error) {
    if (isProtocolError(error)) throw new ReceiverError('COPY_DATA_INVALID', `copy of ${target.schema}.${target.table}: ${error.message}`, { cause: error });
    throw error;
  }
  if (events.length !== copy.rows) throw new ReceiverError('COPY_DATA_INVALID', `copy of ${target.schema}.${target.table}: the COPY data holds ${events.length} rows; it declares ${copy.rows}`);
  const runs = new RunExecutor(trx, client);
  for (const run of groupIntoRuns(events, () => target)) await runs.execute(run);
}
