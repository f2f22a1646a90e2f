// `storx-replicator run` as an operator runs it: a child process with a YAML config, stopped by
// SIGTERM. A transaction larger than a batch goes through whole. (That memory does not grow with
// a transaction's size is proven once, for both services, by packages/e2e's huge-transaction.)
import { spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '@storx-backup/test-postgres';
import { OBJECTS_KEY, type Pair, startPair, waitForTableEqual } from './support.js';

const ROWS = 20_000;

let pair: Pair;
beforeAll(async () => {
  pair = await startPair();
});
afterAll(async () => {
  await pair.close();
});

describe('storx-replicator run (child process)', () => {
  it(`streams a ${ROWS}-row transaction and exits 0 on SIGTERM`, async () => {
    const config = pair.config({ 'replication.source-id': 'process' });
    const file = join(pair.keyDir, 'config.yaml');
    await writeFile(
      file,
      `database: "${config.databaseUrl}"
replication:
  webhook-url: "${config.webhookUrl.href}"
  webhook-public-key: "${config.webhookPublicKeyPath}"
  signing-key: "${config.signingKeyPath}"
  slot-name: "${config.slotName}"
  publication-name: "process_pub"
  tables: [objects, segments]
  retry-delay: 100ms
log-level: info
`,
    );
    // STORX_TEST_NODE_ARGS: extra node flags for the child, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof".
    const nodeArgs = (process.env['STORX_TEST_NODE_ARGS'] ?? '').split(' ').filter(Boolean);
    const child = spawn(process.execPath, [...nodeArgs, join(import.meta.dirname, '..', 'bin', 'storx-replicator.js'), 'run', '--config', file], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, STORX_CONFIG: '' } });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    try {
      await waitFor(() => output.includes('replication stream started'), { description: `replicator to start (output: ${output})`, timeoutMs: 30_000 });
      await pair.source.query(`INSERT INTO objects (project_id, bucket_name, object_key, version, encrypted_metadata, total_plain_size)
        SELECT '0b5d3c1e-6f7a-4d2b-9c8e-1a2b3c4d5e6f', 'huge', int8send(g), 1, decode(repeat(md5(g::text), 7), 'hex'), g FROM generate_series(1, ${ROWS}) g`);
      expect((await waitForTableEqual(pair, 'objects', OBJECTS_KEY, 300_000)).count).toBe(ROWS);
    } finally {
      child.kill('SIGTERM');
    }
    const started = Date.now();
    expect(await exited).toBe(0);
    expect(Date.now() - started).toBeLessThan(15_000);
    expect(output).toContain('"msg":"stopped"');
  }, 600_000);
});
