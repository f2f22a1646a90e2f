import { sql } from 'kysely';
import type { BackupDb } from '../db.js';

/**
 * Creates the receiver's own state schema. Idempotent, and safe when several receivers start at
 * once: the DDL runs under a transaction-scoped advisory lock.
 */
export async function migrateState(db: BackupDb, stateSchema: string): Promise<void> {
  await db.transaction().execute(async (trx) => {
    await sql`SELECT pg_advisory_xact_lock(hashtext('backuptools-receiver:migrate'))`.execute(trx);
    await sql`CREATE SCHEMA IF NOT EXISTS ${sql.id(stateSchema)}`.execute(trx);
    // One row per (source, slot): the position of the last applied batch. It is written in the
    // same transaction as the batch's rows, which is what makes redelivery harmless.
    await sql`
      CREATE TABLE IF NOT EXISTS ${sql.id(stateSchema, 'watermarks')} (
        source_id text NOT NULL,
        slot text NOT NULL,
        commit_lsn pg_lsn,
        chunk_index integer NOT NULL DEFAULT 0,
        chunk_last boolean NOT NULL DEFAULT true,
        applied_at timestamptz,
        source_committed_at timestamptz,
        batches_applied bigint NOT NULL DEFAULT 0,
        events_applied bigint NOT NULL DEFAULT 0,
        PRIMARY KEY (source_id, slot)
      )`.execute(trx);
    // `seq` of the last change applied from the watermark's transaction: redelivered batches
    // are filtered per event, because batch boundaries change when the sender restarts.
    await sql`ALTER TABLE ${sql.id(stateSchema, 'watermarks')} ADD COLUMN IF NOT EXISTS event_seq integer`.execute(trx);
    // The PostgreSQL system and timeline the watermark was applied from (`origin` of the
    // batches): a batch from another system, or from a timeline that forked before the
    // watermark (an old primary back after a failover), is refused instead of compared by LSN.
    await sql`ALTER TABLE ${sql.id(stateSchema, 'watermarks')} ADD COLUMN IF NOT EXISTS source_system_id text`.execute(trx);
    await sql`ALTER TABLE ${sql.id(stateSchema, 'watermarks')} ADD COLUMN IF NOT EXISTS source_timeline bigint`.execute(trx);
    // Ids of signed seed-v1 requests already applied (that format has no watermark): a replay
    // inside the timestamp window is answered as a duplicate. Rows older than the window go.
    await sql`
      CREATE TABLE IF NOT EXISTS ${sql.id(stateSchema, 'seen_webhooks')} (
        webhook_id text PRIMARY KEY,
        seen_at timestamptz NOT NULL DEFAULT clock_timestamp()
      )`.execute(trx);
    // Chunks of a split transaction whose last chunk has not arrived yet (apply/staged-chunks.ts):
    // written with the watermark's chunk progress, moved into the tables at the last chunk.
    // `tables` lists the tables a chunk touches (a copy of one drops its changes); the chunk's
    // text is stored uncompressed (it is written once and read once; compressing costs CPU on the
    // apply path).
    await sql`
      CREATE TABLE IF NOT EXISTS ${sql.id(stateSchema, 'staged_chunks')} (
        source_id text NOT NULL,
        slot text NOT NULL,
        commit_lsn pg_lsn NOT NULL,
        first_seq bigint NOT NULL,
        last_seq bigint NOT NULL,
        tables text[] NOT NULL,
        chunk text NOT NULL,
        PRIMARY KEY (source_id, slot, commit_lsn, first_seq)
      )`.execute(trx);
    // Only when needed: ALTER TABLE takes a lock that would queue behind a running receiver's apply.
    const { rows: storage } = await sql<{ attstorage: string }>`
      SELECT attstorage FROM pg_attribute WHERE attrelid = format('%I.%I', ${stateSchema}::text, 'staged_chunks')::regclass AND attname = 'chunk'`.execute(trx);
    if (storage[0]?.attstorage !== 'e') await sql`ALTER TABLE ${sql.id(stateSchema, 'staged_chunks')} ALTER COLUMN chunk SET STORAGE EXTERNAL`.execute(trx);
    // One row per copied table (initial snapshot, snapshot, resync): which exported snapshot
    // the copy reads (`image_lsn`), how far it got, whether it is complete. Written with each
    // chunk's rows; stream changes of the table that committed before image_lsn are skipped.
    await sql`
      CREATE TABLE IF NOT EXISTS ${sql.id(stateSchema, 'table_copies')} (
        source_id text NOT NULL,
        slot text NOT NULL,
        schema_name text NOT NULL,
        table_name text NOT NULL,
        image_lsn pg_lsn NOT NULL,
        next_chunk integer NOT NULL,
        done boolean NOT NULL,
        rows_copied bigint NOT NULL DEFAULT 0,
        started_at timestamptz NOT NULL DEFAULT clock_timestamp(),
        finished_at timestamptz,
        PRIMARY KEY (source_id, slot, schema_name, table_name)
      )`.execute(trx);
    // The last batch refused for good (4xx) per (source, slot): written on its own connection,
    // outside the rolled-back apply, so that `status` and the ping reply can say replication is
    // blocked without asking the replicator. Deleted when a batch of that source applies.
    await sql`
      CREATE TABLE IF NOT EXISTS ${sql.id(stateSchema, 'refusals')} (
        source_id text NOT NULL,
        slot text NOT NULL,
        code text NOT NULL,
        http_status integer NOT NULL,
        message text NOT NULL,
        commit_lsn pg_lsn,
        chunk_index integer,
        first_refused_at timestamptz NOT NULL DEFAULT clock_timestamp(),
        last_refused_at timestamptz NOT NULL DEFAULT clock_timestamp(),
        attempts bigint NOT NULL DEFAULT 1,
        PRIMARY KEY (source_id, slot)
      )`.execute(trx);
  });
}
