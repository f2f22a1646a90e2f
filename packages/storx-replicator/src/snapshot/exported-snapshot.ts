import { randomBytes } from 'node:crypto';
import { type Lsn, parseLsn } from '@storx-backup/protocol';
import { FAILOVER_SLOTS_VERSION, serverVersionNum } from '../source/slot.js';
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
    // The service's slot is a failover slot from PostgreSQL 17 on (kept on standbys with
    // sync_replication_slots); that needs the new syntax. Otherwise the pre-15 syntax: still
    // accepted by PostgreSQL 17, and the only one 10-14 understand. A temporary slot cannot fail over.
    const failover = !temporary && (await serverVersionNum(client)) >= FAILOVER_SLOTS_VERSION;
    const command = failover ? `CREATE_REPLICATION_SLOT "${name}" LOGICAL pgoutput (SNAPSHOT 'export', FAILOVER true)` : `CREATE_REPLICATION_SLOT "${name}" ${temporary ? 'TEMPORARY ' : ''}LOGICAL pgoutput EXPORT_SNAPSHOT`;
    const { rows } = await client.query<{ consistent_point: string; snapshot_name: string }>(command);
    const row = rows[0]!;
    return { snapshotName: row.snapshot_name, consistentPoint: parseLsn(row.consistent_point), slotName: name, release: () => client.end() };
  } catch (error) {
    await client.end().catch(() => undefined);
    throw error;
  }
}
