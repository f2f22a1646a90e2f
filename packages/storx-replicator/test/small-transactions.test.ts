// A backlog of single-row transactions (what many OLTP clients leave behind while the
// replicator is down) is caught up in few batches, each of many whole source transactions, and
// still ends exactly where the source did: equal tables, the watermark at the last commit, the
// slot acknowledged past it.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseLsn } from '@storx-backup/protocol';
import { waitFor } from '@storx-backup/test-postgres';
import { OBJECTS_KEY, type Pair, runReplicator, slotConfirmed, startPair, waitForTableEqual } from './support.js';

let pair: Pair;
beforeAll(async () => {
  pair = await startPair();
});
afterAll(async () => {
  await pair.close();
});

const TRANSACTIONS = 2_000;

/** `count` transactions of one row each, sent as one simple query (one round trip). */
function singleRowTransactions(from: number, count: number): string {
  const statements: string[] = [];
  for (let id = from; id < from + count; id += 1) {
    statements.push(
      `BEGIN; INSERT INTO objects (project_id, bucket_name, object_key, version, total_plain_size) VALUES ('0b5d3c1e-6f7a-4d2b-9c8e-1a2b3c4d5e6f', 'small', int8send(${id}), 1, ${id}); COMMIT;`,
    );
  }
  return statements.join('\n');
}

async function counter(running: ReturnType<typeof runReplicator>, name: string): Promise<number> {
  const text = await running.replicator.metrics.registry.getSingleMetricAsString(name);
  const match = /\} ?(\d+)\s*$|^\S+ (\d+)\s*$/m.exec(text.split('\n').filter((line) => !line.startsWith('#')).join('\n'));
  return match === null ? 0 : Number(match[1] ?? match[2]);
}

describe('a backlog of single-row transactions', () => {
  it('is delivered in few batches of whole transactions; tables equal, watermark at the last commit, slot past it', async () => {
    const config = pair.config({ 'replication.source-id': 'small-tx' });
    let running = runReplicator(config);
    await waitFor(async () => (await slotConfirmed(pair.source, config.slotName)) !== null, { description: 'slot created', timeoutMs: 30_000 });
    await pair.source.query(singleRowTransactions(1, 10));
    await waitForTableEqual(pair, 'objects', OBJECTS_KEY);
    await running.stop();

    // The backlog: made while nothing reads the slot.
    await pair.source.query(singleRowTransactions(11, TRANSACTIONS - 1));
    const { rows: beforeLast } = await pair.source.query<{ lsn: string }>('SELECT pg_current_wal_insert_lsn()::text AS lsn');
    await pair.source.query(singleRowTransactions(10 + TRANSACTIONS, 1));
    const { rows: afterLast } = await pair.source.query<{ lsn: string }>('SELECT pg_current_wal_lsn()::text AS lsn');

    running = runReplicator(config);
    try {
      await waitForTableEqual(pair, 'objects', OBJECTS_KEY, 60_000);
      const { rows: watermark } = await pair.backup.query<{ commit_lsn: string; chunk_last: boolean }>('SELECT commit_lsn::text, chunk_last FROM backuptools_state.watermarks WHERE source_id = $1', ['small-tx']);
      // The last transaction's commit record lies between the two positions read around it.
      expect(parseLsn(watermark[0]!.commit_lsn) > parseLsn(beforeLast[0]!.lsn)).toBe(true);
      expect(parseLsn(watermark[0]!.commit_lsn) < parseLsn(afterLast[0]!.lsn)).toBe(true);
      expect(watermark[0]!.chunk_last).toBe(true);
      await waitFor(async () => parseLsn((await slotConfirmed(pair.source, config.slotName))!) >= parseLsn(afterLast[0]!.lsn), { description: 'slot acknowledged past the last commit', timeoutMs: 30_000 });

      const events = await counter(running, 'storx_replicator_events_sent_total');
      const batches = await counter(running, 'storx_replicator_batches_sent_total');
      expect(events).toBe(TRANSACTIONS);
      // One request per source transaction would be 2,000; grouping makes it a few dozen at
      // most (each batch carries what arrived while the one before it was applied).
      expect(batches, `${batches} batches for ${TRANSACTIONS} transactions`).toBeLessThanOrEqual(TRANSACTIONS / 10);
    } finally {
      await running.stop();
    }
  });
});
