import { afterAll, beforeAll, describe, it } from 'vitest';
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

describe('streaming a source to the receiver', () => {
  it('replicates inserts, updates, deletes and a truncate across both tables, and acknowledges the slot', async () => {
    const config = pair.config();
    const running = runReplicator(config);
    try {
      await waitFor(async () => (await slotConfirmed(pair.source, config.slotName)) !== null, { description: 'slot created', timeoutMs: 30_000 });
      await pair.source.query(`INSERT INTO objects (project_id, bucket_name, object_key, version, encrypted_metadata, total_plain_size)
        SELECT '0b5d3c1e-6f7a-4d2b-9c8e-1a2b3c4d5e6f', 'bucket', int8send(g), 1, decode(repeat('ab', g % 50), 'hex'), g FROM generate_series(1, 500) g`);
      await pair.source.query(`INSERT INTO segments (stream_id, position, plain_size, note) SELECT gen_random_uuid(), g, g, repeat('n', g) FROM generate_series(1, 200) g`);
      await pair.source.query('UPDATE objects SET status = 2, expires_at = now() WHERE total_plain_size % 3 = 0');
      await pair.source.query('DELETE FROM objects WHERE total_plain_size % 7 = 0');
      await pair.source.query('BEGIN; UPDATE segments SET plain_size = plain_size + 1 WHERE position < 50; DELETE FROM segments WHERE position > 150; COMMIT');
      await waitForTableEqual(pair, 'objects', OBJECTS_KEY);
      await waitForTableEqual(pair, 'segments', 'stream_id, position');

      await pair.source.query('TRUNCATE segments');
      await waitForTableEqual(pair, 'segments', 'stream_id, position');

      // The slot is acknowledged up to (at least) the last commit once the receiver applied it.
      const { rows } = await pair.source.query<{ lsn: string }>('SELECT pg_current_wal_lsn()::text AS lsn');
      await waitFor(async () => {
        const confirmed = await slotConfirmed(pair.source, config.slotName);
        return confirmed !== null && parseLsn(confirmed) >= parseLsn(rows[0]!.lsn);
      }, { description: 'slot confirmed past the last change', timeoutMs: 20_000 });
    } finally {
      await running.stop();
    }
  });
});
