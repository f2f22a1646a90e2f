// A measurement, not a test: the receiver's own CPU and wall time per stream batch of one small
// source transaction (or of STORX_REQUEST_COST_EVENTS rows), from the signed v3 body to the
// answer, through Fastify's inject (no socket) on a warm receiver. Runs only with
// STORX_REQUEST_COST=1:
//
//   STORX_REQUEST_COST=1 pnpm exec vitest run --project receiver test/request-cost.test.ts
//
// CPU is this process's (the backup PostgreSQL's is not counted); what a trickle's latency and a
// spread-out stream's throughput pay per request on the receiver (docs/benchmark.md).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Batch, ContentKeys } from '@storx-backup/protocol';
import { batchOf, OBJECTS, objectRow, signedV3Request, type TestReceiver, testReceiver } from './support.js';

const REQUESTS = 400;
const WARM_UP = 50;

let receiver: TestReceiver;
beforeAll(async () => {
  if (process.env['STORX_REQUEST_COST'] === '1') receiver = await testReceiver();
});
afterAll(async () => {
  await receiver?.close();
});

describe.runIf(process.env['STORX_REQUEST_COST'] === '1')('request cost (measurement)', () => {
  it(`${REQUESTS} stream batches, one after the other`, { timeout: 300_000 }, async () => {
    const events = Number(process.env['STORX_REQUEST_COST_EVENTS'] ?? 1);
    // Rows are keyed index * 1,000 + row: more than 1,000 per batch would repeat keys across batches.
    if (!Number.isInteger(events) || events < 1 || events > 1_000) throw new Error('STORX_REQUEST_COST_EVENTS must be 1-1000 rows per batch');
    // One content key for the run, as a replicator's session has: no RSA unwrap per request.
    const contentKeys = new ContentKeys();
    const request = (index: number): ReturnType<typeof signedV3Request> => {
      const rows = Array.from({ length: events }, (_, row) => ({ operation: 'INSERT' as const, data: objectRow(index * 1_000 + row), old_data: null, unchanged_toast: [] }));
      const batch: Batch = { ...batchOf([OBJECTS], rows, { sourceId: 'request-cost' }), acknowledges: 'durable' };
      return signedV3Request(batch, receiver.keys, { contentKeys });
    };
    for (let index = 0; index < WARM_UP; index += 1) expect((await receiver.app.inject(request(index))).statusCode).toBe(200);
    const requests = Array.from({ length: REQUESTS }, (_, index) => request(WARM_UP + index));
    const times: number[] = [];
    const statuses: number[] = [];
    const cpuBefore = process.cpuUsage();
    const started = performance.now();
    for (const each of requests) {
      const at = performance.now();
      statuses.push((await receiver.app.inject(each)).statusCode);
      times.push(performance.now() - at);
    }
    const wallMs = performance.now() - started;
    const cpu = process.cpuUsage(cpuBefore);
    expect(statuses.filter((status) => status !== 200)).toEqual([]);
    times.sort((a, b) => a - b);
    const perRequest = (micros: number): string => (micros / 1_000 / REQUESTS).toFixed(2);
    console.log(
      `[request-cost] ${events}-row batches: wall ${(wallMs / REQUESTS).toFixed(2)} ms/request (p50 ${times[REQUESTS >> 1]!.toFixed(2)}), CPU ${perRequest(cpu.user + cpu.system)} ms/request (user ${perRequest(cpu.user)}, system ${perRequest(cpu.system)})`,
    );
  });
});
