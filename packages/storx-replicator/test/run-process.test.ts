// `storx-replicator run` as an operator runs it: a child process with a YAML config, stopped by
// SIGTERM. A transaction far larger than a batch goes through with the process's peak memory
// under a fixed bound.
import { spawn } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '@storx-backup/test-postgres';
import { OBJECTS_KEY, type Pair, startPair, waitForTableEqual } from './support.js';

/**
 * Peak resident memory the replicator may reach for any transaction size. Measured here: 183 MiB
 * for 50k rows, 202 MiB for 200k, 208 MiB for 1M (it levels off: memory follows the batch size,
 * not the transaction's). Most of it is V8 letting the heap grow; the live heap stays small.
 */
const RSS_BOUND_BYTES = 256 * 1024 * 1024;
const ROWS = Number(process.env['STORX_TEST_HUGE_TX_ROWS'] ?? 200_000);

let pair: Pair;
beforeAll(async () => {
  pair = await startPair();
});
afterAll(async () => {
  await pair.close();
});

async function peakRss(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  return Number(/VmHWM:\s+(\d+) kB/.exec(status)?.[1] ?? 0) * 1024;
}

describe('storx-replicator run (child process)', () => {
  it(`streams a ${ROWS}-row transaction with bounded memory and exits 0 on SIGTERM`, async () => {
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
      const idle = await peakRss(child.pid!);
      await pair.source.query(`INSERT INTO objects (project_id, bucket_name, object_key, version, encrypted_metadata, total_plain_size)
        SELECT '0b5d3c1e-6f7a-4d2b-9c8e-1a2b3c4d5e6f', 'huge', int8send(g), 1, decode(repeat(md5(g::text), 7), 'hex'), g FROM generate_series(1, ${ROWS}) g`);
      let peak = 0;
      await waitForTableEqual(pair, 'objects', OBJECTS_KEY, 300_000).finally(async () => {
        peak = await peakRss(child.pid!);
      });
      console.info(`[run-process] ${ROWS}-row transaction: replicator peak RSS ${(peak / 1024 / 1024).toFixed(0)} MiB at start ${(idle / 1024 / 1024).toFixed(0)} MiB (bound ${RSS_BOUND_BYTES / 1024 / 1024} MiB)`);
      expect(peak).toBeGreaterThan(0);
      expect(peak).toBeLessThan(RSS_BOUND_BYTES);
    } finally {
      child.kill('SIGTERM');
    }
    const started = Date.now();
    expect(await exited).toBe(0);
    expect(Date.now() - started).toBeLessThan(15_000);
    expect(output).toContain('"msg":"stopped"');
  }, 900_000);
});
