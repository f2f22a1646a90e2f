import { afterAll, describe, expect, it } from 'vitest';
import { captureRun } from '@storx-backup/service-kit';
import { main } from '../src/cli.js';
import type { VerifyReport } from '../src/verify/format-verify.js';
import { type Pair, pairFlags, type RunningReplicator, runReplicator, SCHEMA, startPair, waitForTableEqual, OBJECTS_KEY } from './support.js';

// The speed of `verify` on a large `objects` table (the seed's, ~300-byte rows), each side's
// rows hashed per second. Off unless STORX_VERIFY_SPEED_ROWS is set; run it under the heavy lock:
//   STORX_VERIFY_SPEED_ROWS=1000000 pnpm exec vitest run --project replicator test/verify-speed.test.ts
const ROWS = Number(process.env['STORX_VERIFY_SPEED_ROWS'] ?? 0);

let pair: Pair | undefined;
let running: RunningReplicator | undefined;
afterAll(async () => {
  await running?.stop().catch(() => undefined);
  await pair?.close();
});

describe.runIf(ROWS > 0)('verify speed', () => {
  it(`hashes ${ROWS} objects rows on each side`, { timeout: 1_800_000 }, async () => {
    pair = await startPair();
    await pair.source.query(
      `INSERT INTO "${SCHEMA}".objects (project_id, bucket_name, object_key, version, encrypted_metadata, total_plain_size, total_encrypted_size)
       SELECT md5((i / 1000)::text)::uuid, convert_to('bucket-' || (i % 10), 'UTF8'), convert_to('some/object/key/' || md5(i::text), 'UTF8'), 1,
              decode(repeat(md5(i::text), 6), 'hex'), i, i * 1.25
       FROM generate_series(1, ${ROWS}) i`,
    );
    const config = pair.config({ 'replication.tables': 'objects' });
    running = runReplicator(config);
    await waitForTableEqual(pair, 'objects', OBJECTS_KEY, 1_500_000);
    const started = performance.now();
    const run = await captureRun(main, [
      'verify', '--json', ...pairFlags(pair, config, 'objects'),
    ], { STORX_CONFIG: '' });
    const seconds = (performance.now() - started) / 1000;
    expect(run.stderr).toBe('');
    const report = JSON.parse(run.stdout) as VerifyReport;
    const objects = report.tables[0]!;
    console.log(`verify of ${ROWS} objects rows: ${seconds.toFixed(1)} s in all; source ${objects.source_seconds.toFixed(1)} s (${report.speed.source_rows_per_second} rows/s), backup ${objects.backup_seconds.toFixed(1)} s (${report.speed.backup_rows_per_second} rows/s), ${objects.ranges} ranges`);
    expect(objects).toMatchObject({ status: 'equal', source_rows: ROWS, backup_rows: ROWS });
    expect(run.code).toBe(0);
  });
});
