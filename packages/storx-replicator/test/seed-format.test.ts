// format: seed-v1 — the seed document's envelope, one event per request, still signed; for
// receivers written from the seed. Our receiver accepts it (signed) into existing tables.
import { afterAll, beforeAll, describe, it } from 'vitest';
import { waitFor } from '@storx-backup/test-postgres';
import { OBJECTS_KEY, type Pair, runReplicator, slotConfirmed, SOURCE_DDL, startPair, waitForTableEqual } from './support.js';

let pair: Pair;
beforeAll(async () => {
  pair = await startPair();
  // Seed-format events carry no column types: the backup tables exist beforehand.
  for (const statement of SOURCE_DDL) await pair.backup.query(statement);
});
afterAll(async () => {
  await pair.close();
});

describe('seed-v1 format', () => {
  it('replicates inserts, updates and deletes one signed event per request', async () => {
    const config = pair.config({ 'replication.format': 'seed-v1', 'replication.source-id': 'seed' });
    const running = runReplicator(config);
    try {
      await waitFor(async () => (await slotConfirmed(pair.source, config.slotName)) !== null, { description: 'slot created', timeoutMs: 30_000 });
      await pair.source.query(`INSERT INTO objects (project_id, bucket_name, object_key, version, total_plain_size)
        SELECT gen_random_uuid(), 'seed', int8send(g), 1, g FROM generate_series(1, 50) g`);
      await pair.source.query('UPDATE objects SET status = 2 WHERE total_plain_size % 2 = 0');
      await pair.source.query('DELETE FROM objects WHERE total_plain_size % 5 = 0');
      await waitForTableEqual(pair, 'objects', OBJECTS_KEY);
    } finally {
      await running.stop();
    }
  });
});
