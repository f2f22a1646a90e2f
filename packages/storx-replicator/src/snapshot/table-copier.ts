import type pg from 'pg';
import { type ChangeEvent, formatLsn, type Lsn, quoteIdentifier } from '@storx-backup/protocol';
import type { OutgoingBatch } from '../batch/outgoing-batch.js';
import type { DecodedRelation } from '../decode/transaction-assembler.js';
import type { BatchDelivery } from '../deliver/batch-delivery.js';
import { sourceClient } from '../source/source-connection.js';
import { qualified, type SourceTable } from '../source/source-tables.js';
import { catalogRelation } from './catalog-relation.js';
import type { CopyProgress } from './copy-progress.js';
import type { ExportedSnapshot } from './exported-snapshot.js';

const FETCH_ROWS = 1000;
/** Per-row overhead of an event's JSON beyond its values, for sizing chunks. */
const EVENT_OVERHEAD_BYTES = 160;

export interface CopyOptions {
  databaseUrl: string;
  snapshot: ExportedSnapshot;
  tables: readonly SourceTable[];
  delivery: BatchDelivery;
  maxBatchEvents: number;
  maxBatchBytes: number;
  progress: CopyProgress;
  signal: AbortSignal;
}

/**
 * Copies the tables' rows as they are in the exported snapshot, one table after another, in
 * chunks sealed, signed and delivered like stream batches; each chunk is delivered before the
 * next is read, so memory holds one chunk. The snapshot is imported first and then released
 * (a temporary slot is dropped); the copy's own REPEATABLE READ transaction keeps it.
 */
export async function copyTables(options: CopyOptions): Promise<void> {
  const client = sourceClient(options.databaseUrl, { applicationName: 'storx-replicator:copy' });
  await client.connect();
  try {
    await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    await client.query(`SET TRANSACTION SNAPSHOT '${options.snapshot.snapshotName.replaceAll("'", "''")}'`);
    await options.snapshot.release();
    for (const table of options.tables) await copyTable(client, table, options);
    await client.query('COMMIT');
  } finally {
    await options.snapshot.release().catch(() => undefined);
    await client.end().catch(() => undefined);
  }
}

async function copyTable(client: pg.Client, table: SourceTable, options: CopyOptions): Promise<void> {
  const relation = await catalogRelation(client, table);
  const name = `${table.schema}.${table.table}`;
  const { rows: estimate } = await client.query<{ rows: string }>('SELECT reltuples::bigint::text AS rows FROM pg_class WHERE oid = $1', [table.oid]);
  const estimated = Number(estimate[0]?.rows ?? -1);
  options.progress.tableStarted(name, estimated >= 0 ? estimated : undefined);

  const columns = relation.columns.map((column) => `${quoteIdentifier(column.name)}::text`).join(', ');
  // ONLY: an inheritance child's rows are its own table's (pgoutput publishes them under its name).
  await client.query(`DECLARE storx_copy NO SCROLL CURSOR FOR SELECT ${columns} FROM ONLY ${qualified(table)}`);
  const chunk = new ChunkBuilder(relation, options.snapshot.consistentPoint, options);
  for (;;) {
    options.signal.throwIfAborted();
    const page = await client.query<string[]>({ text: `FETCH FORWARD ${FETCH_ROWS} FROM storx_copy`, rowMode: 'array' });
    for (const values of page.rows) {
      // A full chunk goes only once another row follows: the table's last chunk is never empty
      // unless the table is.
      if (chunk.full) await chunk.send(false);
      chunk.add(values);
    }
    if (page.rows.length < FETCH_ROWS) break;
  }
  await chunk.send(true);
  await client.query('CLOSE storx_copy');
  options.progress.tableDone(name);
}

/** Builds one chunk of a table copy at a time and delivers it. */
class ChunkBuilder {
  private events: ChangeEvent[] = [];
  private bytes = 0;
  private index = 0;
  private seq = 0;
  private readonly lsn: string;
  private readonly timestamp = new Date().toISOString();

  constructor(
    private readonly relation: DecodedRelation,
    private readonly imageLsn: Lsn,
    private readonly options: CopyOptions,
  ) {
    this.lsn = formatLsn(imageLsn);
  }

  get full(): boolean {
    return this.events.length >= this.options.maxBatchEvents || this.bytes >= this.options.maxBatchBytes;
  }

  add(values: readonly (string | null)[]): void {
    const data: Record<string, string | null> = {};
    let bytes = EVENT_OVERHEAD_BYTES;
    this.relation.columns.forEach((column, index) => {
      const value = values[index] ?? null;
      data[column.name] = value;
      bytes += column.name.length + (value?.length ?? 4) + 6;
    });
    const { schema, table } = this.relation;
    this.events.push({ operation: 'INSERT', schema, table, timestamp: this.timestamp, lsn: this.lsn, commit_lsn: this.lsn, xid: 0, seq: this.seq, data, old_data: null, unchanged_toast: [] });
    this.seq += 1;
    this.bytes += bytes;
  }

  async send(last: boolean): Promise<void> {
    const { schema, table } = this.relation;
    const batch: OutgoingBatch = {
      commitLsn: this.imageLsn,
      chunk: { index: 0, last: true },
      ackLsn: undefined,
      events: this.events,
      relations: new Map([[this.relation.relationId, this.relation]]),
      bytes: this.bytes,
      lastCommitTimeMs: Date.now(),
      snapshot: { schema, table, image_lsn: this.lsn, index: this.index, last },
    };
    await this.options.delivery.deliver(batch, this.options.signal);
    this.options.progress.rowsCopied(`${schema}.${table}`, this.events.length);
    this.events = [];
    this.bytes = 0;
    this.index += 1;
  }
}

