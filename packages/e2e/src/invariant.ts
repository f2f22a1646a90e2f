import { parseLsn } from '@storx-backup/protocol';
import { connect, sameDigest, tableDigest, tableDigestOrEmpty, type TableDigest, waitFor, withClient } from '@storx-backup/test-postgres';
import type pg from 'pg';
import { TABLE_KEYS } from './source-schema.js';

/** What the invariant needs to know about a running pipeline. */
export interface Pipeline {
  sourceUrl: string;
  backupUrl: string;
  slotName: string;
}

type Table = keyof typeof TABLE_KEYS;
const TABLES = Object.keys(TABLE_KEYS) as Table[];

// Generous: the wait is a cheap poll of two catalog rows, so a long deadline costs nothing when
// things go well and holds on a machine at load average 8.
const CATCH_UP_TIMEOUT_MS = 300_000;

/** The digest of one `satellite/0` table of the e2e schema. */
export function e2eTableDigest(client: pg.ClientBase, table: Table): Promise<TableDigest> {
  return tableDigest(client, `"satellite/0".${table}`, TABLE_KEYS[table]);
}

/**
 * The invariant checked after every scenario, once the writes are over: for each table, the same
 * row count and the same ordered and multiset hashes on both sides.
 *
 * It first waits, cheaply, for the pipeline to pass the source's end position (the slot's
 * confirmed_flush_lsn, which the replicator moves only past what the receiver has committed, at
 * or beyond `pg_current_wal_lsn()` read now), and then hashes each side once. Hashing while
 * waiting would compete with the catch-up it waits for.
 */
export async function expectBackupEqualsSource(pipeline: Pipeline, timeoutMs = CATCH_UP_TIMEOUT_MS): Promise<Record<Table, TableDigest>> {
  const end = await withClient(pipeline.sourceUrl, async (client) => (await client.query<{ lsn: string }>('SELECT pg_current_wal_lsn()::text AS lsn')).rows[0]!.lsn);
  await waitForPipelinePast(pipeline, end, timeoutMs);
  const [source, backup] = await Promise.all([digests(pipeline.sourceUrl, tableDigest), digests(pipeline.backupUrl, tableDigestOrEmpty)]);
  const differing = TABLES.filter((table) => !sameDigest(source[table], backup[table]));
  if (differing.length > 0) {
    const details = differing.map((table) => `${table}: source ${JSON.stringify(source[table])}, backup ${JSON.stringify(backup[table])}`);
    throw new Error(`the backup differs from the source after the pipeline passed ${end}:\n${details.join('\n')}`);
  }
  return source;
}

async function digests(url: string, digest: typeof tableDigest): Promise<Record<Table, TableDigest>> {
  return withClient(url, async (client) => {
    const result = {} as Record<Table, TableDigest>;
    for (const table of TABLES) result[table] = await digest(client, `"satellite/0".${table}`, TABLE_KEYS[table]);
    return result;
  });
}

/**
 * Waits until the slot's confirmed_flush_lsn is at or past `end`. Reconnects when the source is
 * restarted under it (crash scenarios). The message names the slot's and the receiver's
 * positions, so a timeout says which side is behind.
 */
export async function waitForPipelinePast(pipeline: Pipeline, end: string, timeoutMs = CATCH_UP_TIMEOUT_MS): Promise<void> {
  const target = parseLsn(end);
  let client: pg.Client | undefined;
  let last = 'not read yet';
  let receiver = '(not read yet)';
  let receiverReadAt = 0;
  try {
    await waitFor(
      async () => {
        try {
          if (client === undefined) {
            client = await connect(pipeline.sourceUrl);
            client.on('error', () => undefined);
          }
          const { rows } = await client.query<{ lsn: string | null }>('SELECT confirmed_flush_lsn::text AS lsn FROM pg_replication_slots WHERE slot_name = $1', [pipeline.slotName]);
          const confirmed = rows[0]?.lsn ?? null;
          if (Date.now() - receiverReadAt > 5_000) {
            receiverReadAt = Date.now();
            receiver = await receiverWatermark(pipeline.backupUrl);
          }
          last = `slot ${pipeline.slotName} at ${confirmed ?? '(none)'}, receiver's watermark at ${receiver}`;
          return confirmed !== null && parseLsn(confirmed) >= target;
        } catch (error) {
          await client?.end().catch(() => undefined);
          client = undefined;
          last = `source unreachable: ${(error as Error).message}`;
          return false;
        }
      },
      { description: () => `the pipeline to pass the source's end position ${end} (${last})`, timeoutMs, intervalMs: 250 },
    );
  } finally {
    await client?.end().catch(() => undefined);
  }
}

async function receiverWatermark(backupUrl: string): Promise<string> {
  return withClient(backupUrl, async (client) => {
    const { rows } = await client.query<{ commit_lsn: string | null }>('SELECT commit_lsn::text FROM backuptools_state.watermarks');
    return rows.map((row) => row.commit_lsn ?? '-').join(', ') || '(no watermark)';
  }).catch(() => '(backup unreachable)');
}
