import type pg from 'pg';
import type { Lsn, SourceOrigin } from '@storx-backup/protocol';
import { sourceClient } from './source-connection.js';
import { identifySource } from './source-identity.js';

/** Microseconds between 1970-01-01 and PostgreSQL's epoch, 2000-01-01. */
const PG_EPOCH_OFFSET_MICROS = 946_684_800_000_000n;
const XLOG_DATA = 0x77; // 'w'
const KEEPALIVE = 0x6b; // 'k'
const XLOG_DATA_HEADER_BYTES = 25;

export interface StreamHandlers {
  /** One pgoutput message; `buffer` is only valid during the call (the connection reuses it). */
  onData(walStart: bigint, buffer: Buffer, offset: number): void;
  /** A server keepalive: `walEnd` is the position the server has sent up to. */
  onKeepalive(walEnd: bigint, replyRequested: boolean): void;
}

/**
 * The logical replication connection: START_REPLICATION over `pg`'s CopyBoth, with our own
 * framing and our own standby status updates. Nothing here acknowledges by itself: the only
 * position ever reported is the one passed to `sendStatus`, which the caller takes from what the
 * receiver has committed. (pg-logical-replication was measured and not used: its timer reports
 * the last *received* LSN even with auto-acknowledge off, it reports LSN + 1, and it restarts
 * from the last received position; see docs/architecture.md.)
 */
export class ReplicationStream {
  /** Settles when the stream ends: resolves after `stop()`, rejects when the connection fails. */
  readonly ended: Promise<void>;
  private stopping = false;

  private constructor(
    private readonly client: pg.Client,
    query: Promise<unknown>,
    /** The system and timeline of the server this stream reads (IDENTIFY_SYSTEM, TIMELINE_HISTORY). */
    readonly origin: SourceOrigin,
  ) {
    this.ended = new Promise<void>((resolve, reject) => {
      const fail = (error: Error): void => (this.stopping ? resolve() : reject(error));
      client.on('error', fail);
      client.on('end', () => (this.stopping ? resolve() : reject(new Error('replication connection closed by the server'))));
      query.then(
        () => (this.stopping ? resolve() : reject(new Error('replication stream ended by the server'))),
        (error: Error) => fail(error),
      );
    });
    // The outcome is observed through `ended`; this keeps an early failure from being unhandled.
    this.ended.catch(() => undefined);
  }

  /**
   * Starts streaming from the slot's confirmed position: START_REPLICATION at 0/0 makes the
   * server use `confirmed_flush_lsn`. Never from the current WAL position.
   */
  static async start(databaseUrl: string, slotName: string, publicationName: string, handlers: StreamHandlers, options: { enableFailover?: boolean } = {}): Promise<ReplicationStream> {
    const client = sourceClient(databaseUrl, { replication: true, applicationName: `storx-replicator:${slotName}` });
    await client.connect();
    let origin: SourceOrigin;
    try {
      // On the connection that streams: the identity is exactly that of the server the changes come from.
      origin = await identifySource(client);
      // PostgreSQL 17: a slot made before (or by an older replicator) becomes a failover slot.
      // Here, on our own connection, right before streaming: the slot is not held by anyone else.
      if (options.enableFailover) await client.query(`ALTER_REPLICATION_SLOT ${slotName} (FAILOVER true)`);
    } catch (error) {
      await client.end().catch(() => undefined);
      throw error;
    }
    const connection = (client as unknown as { connection: PgConnection }).connection;
    connection.on('copyData', ({ chunk }: { chunk: Buffer }) => {
      const kind = chunk[0];
      if (kind === XLOG_DATA) handlers.onData(chunk.readBigUInt64BE(1), chunk, XLOG_DATA_HEADER_BYTES);
      else if (kind === KEEPALIVE) handlers.onKeepalive(chunk.readBigUInt64BE(1), chunk[17] === 1);
    });
    const started = new Promise<void>((resolve) => connection.once('replicationStart', () => resolve()));
    // Slot and publication names were validated as [a-z_][a-z0-9_]*.
    const query = client.query(`START_REPLICATION SLOT ${slotName} LOGICAL 0/0 (proto_version '1', publication_names '"${publicationName}"', messages 'true')`);
    const stream = new ReplicationStream(client, query, origin);
    try {
      await Promise.race([started, stream.ended]);
    } catch (error) {
      // Refused (slot in use by another connection, say): close, or every retry leaks a walsender.
      await client.end().catch(() => undefined);
      throw error;
    }
    return stream;
  }

  /**
   * Standby status update: written, flushed and applied are all `confirmed`, the end of the
   * last transaction the receiver has durably applied. The server may then recycle WAL before it.
   */
  sendStatus(confirmed: Lsn, replyRequested = false): void {
    if (this.stopping) return;
    const message = Buffer.allocUnsafe(34);
    message[0] = 0x72; // 'r'
    message.writeBigUInt64BE(confirmed, 1);
    message.writeBigUInt64BE(confirmed, 9);
    message.writeBigUInt64BE(confirmed, 17);
    message.writeBigInt64BE(BigInt(Date.now()) * 1000n - PG_EPOCH_OFFSET_MICROS, 25);
    message[33] = replyRequested ? 1 : 0;
    this.connection.sendCopyFromChunk(message);
  }

  /** Stops reading from the socket (backpressure); the server's send buffer then fills and it waits. */
  pause(): void {
    this.connection.stream.pause();
  }

  resume(): void {
    this.connection.stream.resume();
  }

  /** Reports `confirmed` one last time, ends the copy (CopyDone) and closes the connection. */
  async stop(confirmed: Lsn): Promise<void> {
    if (this.stopping) return this.ended;
    this.sendStatus(confirmed);
    this.stopping = true;
    this.resume();
    try {
      this.connection.endCopyFrom();
    } catch {
      // The connection may already be gone; closing below is all that is left to do.
    }
    const closed = Promise.race([this.ended, new Promise((resolve) => setTimeout(resolve, 2000).unref())]);
    await closed;
    await this.client.end().catch(() => undefined);
  }

  private get connection(): PgConnection {
    return (this.client as unknown as { connection: PgConnection }).connection;
  }
}

/** The parts of pg's internal Connection used here (stable across pg 8). */
interface PgConnection {
  on(event: 'copyData', listener: (message: { chunk: Buffer }) => void): void;
  once(event: 'replicationStart', listener: () => void): void;
  sendCopyFromChunk(chunk: Buffer): void;
  endCopyFrom(): void;
  stream: { pause(): void; resume(): void };
}
