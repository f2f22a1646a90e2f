import type pg from 'pg';
import { OUR_PUBLICATION } from './bench-environment.js';
import type { DecodeCeiling } from './results.js';

const SLOT = 'bench_decode';

/** Creates the slot the decode ceiling reads; call before the load so it sees the load's WAL. */
export async function createDecodeSlot(source: pg.Client): Promise<void> {
  // One left by a repetition that failed half-way would hold WAL and make the create fail.
  await source.query('SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = $1', [SLOT]);
  await source.query("SELECT pg_create_logical_replication_slot($1, 'pgoutput')", [SLOT]);
}

/**
 * The server's decode ceiling for the load just written: pgoutput with our replicator's options,
 * in-process (`pg_logical_slot_peek_binary_changes` up to `uptoLsn`), no network, no client.
 * Drops the slot afterwards.
 */
export async function measureDecode(source: pg.Client, uptoLsn: string, rows: number): Promise<DecodeCeiling> {
  try {
    const started = performance.now();
    const { rows: result } = await source.query<{ messages: string }>(
      `SELECT count(*)::text AS messages FROM pg_logical_slot_peek_binary_changes($1, $2::pg_lsn, NULL,
         'proto_version', '1', 'publication_names', '${OUR_PUBLICATION}', 'messages', 'true')`,
      [SLOT, uptoLsn],
    );
    const seconds = (performance.now() - started) / 1000;
    return { status: 'ok', seconds, rowsPerSecond: rows / seconds, messages: Number(result[0]!.messages) };
  } finally {
    await source.query('SELECT pg_drop_replication_slot($1)', [SLOT]);
  }
}
