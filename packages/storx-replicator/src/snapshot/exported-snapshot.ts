import { randomBytes } from 'node:crypto';
import { type Lsn, parseLsn } from '@storx-backup/protocol';
import { sourceClient } from '../source/source-connection.js';

/**
 * A snapshot exported by CREATE_REPLICATION_SLOT: exactly the transactions that committed
 * before the slot's consistent point are visible in it, and a slot streams exactly those that
 * commit from that point on. Valid until `release()`; import it (SET TRANSACTION SNAPSHOT)
 * before then.
 */
export interface ExportedSnapshot {
  snapshotName: string;
  consistentPoint: Lsn;
  slotName: string;
  /** Closes the replication connection (a temporary slot goes with it). */
  release(): Promise<void>;
}

/**
 * Creates a logical slot that exports its snapshot. With `temporary`, a throwaway slot that
 * exists only to give a consistent snapshot for a later copy (resume, `snapshot`, `resync`); it
 * costs a replication slot while the copy starts, and is dropped by `release()` or a crash.
 */
export async function createSlotExportingSnapshot(databaseUrl: string, slotName: string | undefined): Promise<ExportedSnapshot> {
  const temporary = slotName === undefined;
  const name = slotName ?? `storx_copy_${randomBytes(6).toString('hex')}`;
  const client = sourceClient(databaseUrl, { replication: true, applicationName: 'storx-replicator:create-slot' });
  client.on('error', () => undefined); // surfaces as a failed query or import instead
  await client.connect();
  try {
    // The pre-15 syntax: still accepted by PostgreSQL 17, and the only one 10-14 understand.
    const { rows } = await client.query<{ consistent_point: string; snapshot_name: string }>(`CREATE_REPLICATION_SLOT "${name}" ${temporary ? 'TEMPORARY ' : ''}LOGICAL pgoutput EXPORT_SNAPSHOT`);
    const row = rows[0]!;
    return { snapshotName: row.snapshot_name, consistentPoint: parseLsn(row.consistent_point), slotName: name, release: () => client.end() };
  } catch (error) {
    await client.end().catch(() => undefined);
    throw error;
  }
}
