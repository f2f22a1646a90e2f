import type pg from 'pg';
import { to as copyTo } from 'pg-copy-streams';
import { formatLsn, JsonBytes, type Lsn, quoteIdentifier } from '@storx-backup/protocol';
import { EncodedEvents } from '../batch/encoded-events.js';
import type { OutgoingBatch } from '../batch/outgoing-batch.js';
import { notUtf8FromServer } from '../decode/change-json.js';
import type { DecodedRelation } from '../decode/decoded-relation.js';
import { RelationJson } from '../decode/relation-json.js';
import type { BatchDelivery } from '../deliver/batch-delivery.js';
import { sourceClient } from '../source/source-connection.js';
import { qualified, type SourceTable } from '../source/source-tables.js';
import { catalogRelation } from './catalog-relation.js';
import type { CopyProgress } from './copy-progress.js';
import { type CopyTextChunk, CopyTextChunker } from './copy-text-chunks.js';
import { CopyWindow } from './copy-window.js';
import type { ExportedSnapshot } from './exported-snapshot.js';

const FETCH_ROWS = 1000;
const ROW_END = Buffer.from('},"old_data":null,"unchanged_toast":[]},', 'latin1');
const NULL = Buffer.from('null', 'latin1');

export interface CopyOptions {
  databaseUrl: string;
  snapshot: ExportedSnapshot;
  tables: readonly SourceTable[];
  delivery: BatchDelivery;
  /** The JSON path's chunks (a receiver that takes no COPY text): events and bytes. */
  maxBatchEvents: number;
  maxBatchBytes: number;
  /** The COPY text path's chunks, in bytes. */
  copyChunkBytes: number;
  /** Chunks of a table copy on the wire at once, toward a receiver that takes `copy_follows` (default 1). */
  maxInFlight?: number;
  /** Their bytes together (default: no bound but the count). */
  maxInFlightBytes?: number;
  progress: CopyProgress;
  signal: AbortSignal;
}

/**
 * Copies the tables' rows as they are in the exported snapshot, one table after another, in
 * chunks sealed, signed and delivered like stream batches (at most a few chunks held: see each
 * path below). The snapshot is imported first and then released (a temporary slot is dropped);
 * the copy's own REPEATABLE READ transaction keeps it. A value that is not UTF-8 (a SQL_ASCII
 * source: the server refuses it with 22021, as the walsender does) stops with VALUE_NOT_UTF8.
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
  } catch (error) {
    throw notUtf8FromServer(error) ?? error;
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
  if (options.delivery.copyFormat === 'text') await copyTextPassthrough(client, table, relation, options);
  else await copyAsEvents(client, table, relation, options);
  options.progress.tableDone(name);
}

/**
 * The rows as the source's `COPY ... TO STDOUT` writes them, carried untouched to the backup's
 * `COPY ... FROM STDIN` (a receiver that names `"copy": ["text"]`). Reading and delivering
 * overlap: the next chunk is read from the source while the ones before it are on the wire (up
 * to `max-in-flight` toward a receiver that takes `copy_follows`, else one: CopyWindow), so at
 * most the window, one finished and one filling chunk are held.
 */
async function copyTextPassthrough(client: pg.Client, table: SourceTable, relation: DecodedRelation, options: CopyOptions): Promise<void> {
  const { schema, table: name } = relation;
  const imageLsn = formatLsn(options.snapshot.consistentPoint);
  const columnNames = relation.columns.map((column) => column.name);
  const window = new CopyWindow(options.delivery, { maxChunks: options.maxInFlight ?? 1, maxBytes: options.maxInFlightBytes ?? Number.POSITIVE_INFINITY }, options.signal, (batch) =>
    options.progress.rowsCopied(`${schema}.${name}`, batch.copy!.rows),
  );
  let index = 0;
  const send = (chunk: CopyTextChunk, last: boolean): Promise<void> =>
    window.send({
      commitLsn: options.snapshot.consistentPoint,
      chunk: { index: 0, last: true },
      ackLsn: undefined,
      events: new EncodedEvents(),
      relations: new Map([[relation.relationId, relation]]),
      bytes: chunk.bytes,
      lastCommitTimeMs: Date.now(),
      snapshot: { schema, table: name, image_lsn: imageLsn, index: index++, last },
      copy: { format: 'text', columns: columnNames, rows: chunk.rows, data: chunk.pieces },
    });

  // ONLY: an inheritance child's rows are its own table's (pgoutput publishes them under its name).
  const columns = relation.columns.map((column) => quoteIdentifier(column.name)).join(', ');
  const stream = client.query(copyTo(`COPY (SELECT ${columns} FROM ONLY ${qualified(table)}) TO STDOUT`));
  const chunker = new CopyTextChunker(options.copyChunkBytes);
  let finished: CopyTextChunk | undefined;
  try {
    for await (const piece of stream as AsyncIterable<Buffer>) {
      options.signal.throwIfAborted();
      // A chunk goes as not-last only once more rows follow it: the table's last chunk is never
      // empty unless the table is.
      if (finished !== undefined && piece.length > 0) {
        await send(finished, false);
        finished = undefined;
      }
      finished = chunker.add(piece) ?? finished;
    }
    const rest = chunker.finish();
    if (finished !== undefined && rest.rows > 0) {
      await send(finished, false);
      finished = undefined;
    }
    await send(finished ?? rest, true);
    await window.finish();
  } catch (error) {
    window.close();
    await window.finish().catch(() => undefined);
    throw error;
  }
}

/** Each row as its INSERT event's JSON, for a receiver that takes no COPY text. */
async function copyAsEvents(client: pg.Client, table: SourceTable, relation: DecodedRelation, options: CopyOptions): Promise<void> {
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
}

/**
 * Builds one chunk of a table copy at a time, each row written as its event's JSON (an INSERT
 * of the image: `{operation, schema, table, timestamp, lsn, commit_lsn, xid: 0, seq, data,
 * old_data: null, unchanged_toast: []}`), and delivers it.
 */
class ChunkBuilder {
  private readonly out = new JsonBytes(1024 * 1024);
  private events = new EncodedEvents();
  private count = 0;
  private index = 0;
  private seq = 0;
  private readonly lsn: string;
  private readonly json: RelationJson;
  /** `{"operation":"INSERT",…,"seq":` */
  private readonly head: Buffer;
  private static readonly DATA = Buffer.from(',"data":{', 'latin1');

  constructor(
    private readonly relation: DecodedRelation,
    private readonly imageLsn: Lsn,
    private readonly options: CopyOptions,
  ) {
    this.lsn = formatLsn(imageLsn);
    this.json = new RelationJson(relation);
    const { schema, table } = relation;
    const text = (value: string): string => JSON.stringify(value);
    this.head = Buffer.from(`{"operation":"INSERT","schema":${text(schema)},"table":${text(table)},"timestamp":${text(new Date().toISOString())},"lsn":${text(this.lsn)},"commit_lsn":${text(this.lsn)},"xid":0,"seq":`, 'utf8');
  }

  get full(): boolean {
    return this.count >= this.options.maxBatchEvents || this.out.pending >= this.options.maxBatchBytes;
  }

  add(values: readonly (string | null)[]): void {
    const { out, json } = this;
    out.raw(this.head);
    out.uint(this.seq);
    out.raw(ChunkBuilder.DATA);
    for (let index = 0; index < json.members.length; index += 1) {
      const value = values[index] ?? null;
      out.raw(index === 0 ? json.members[index]! : json.commaMembers[index]!);
      if (value === null) {
        out.raw(NULL);
      } else {
        out.string(value);
        if (json.userTyped[index]) this.events.typedValues.record(this.relation.relationId, index, value);
      }
    }
    out.raw(ROW_END);
    this.seq += 1;
    this.count += 1;
  }

  async send(last: boolean): Promise<void> {
    const { schema, table } = this.relation;
    const events = this.events;
    events.add(this.out.take(), this.count);
    const batch: OutgoingBatch = {
      commitLsn: this.imageLsn,
      chunk: { index: 0, last: true },
      ackLsn: undefined,
      events,
      relations: new Map([[this.relation.relationId, this.relation]]),
      bytes: events.byteLength,
      lastCommitTimeMs: Date.now(),
      snapshot: { schema, table, image_lsn: this.lsn, index: this.index, last },
    };
    await this.options.delivery.deliver(batch, this.options.signal);
    this.options.progress.rowsCopied(`${schema}.${table}`, events.count);
    this.events = new EncodedEvents();
    this.count = 0;
    this.index += 1;
  }
}
