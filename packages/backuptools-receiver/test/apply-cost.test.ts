// A measurement, not a test: CPU per row of applying insert runs to the Storj `objects` table,
// today's set-based upsert against COPY, on the backend (its /proc stat) and in this process,
// and the longest the event loop was held. Runs only with STORX_APPLY_COST=1:
//
//   STORX_APPLY_COST=1 pnpm exec vitest run --project receiver test/apply-cost.test.ts
//
// Each variant applies 100 transactions of 1,000 rows plus a watermark update, on one pooled
// connection, into an emptied table; then one 100,000-row transaction for the loop.
import { readFileSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { sql } from 'kysely';
import type pg from 'pg';
import type { ChangeEvent } from '@storx-backup/protocol';
import { createLogger } from '@storx-backup/service-kit';
import { createDatabase, storjSchemaDdl } from '@storx-backup/test-postgres';
import { groupIntoRuns } from '../src/apply/runs.js';
import { executeInSlices, RunExecutor } from '../src/apply/run-executor.js';
import { type BackupDb, type BackupTransaction, createBackupDb, transactionWithClient } from '../src/db.js';
import { readTargetTable, type TargetTable } from '../src/schema/target-table.js';

const TRANSACTIONS = 100;
const ROWS = 1_000;
const CLOCK_TICKS = 100; // CLK_TCK on Linux

let db: BackupDb;
let pool: pg.Pool;
let table: TargetTable;

beforeAll(async () => {
  if (process.env['STORX_APPLY_COST'] !== '1') return;
  ({ db, pool } = createBackupDb(await createDatabase(inject('pgBackupUrl'), 'applycost'), 1, createLogger({ name: 'apply-cost', level: 'silent' })));
  for (const statement of [...storjSchemaDdl(), 'CREATE TABLE progress (id int PRIMARY KEY, lsn bigint)', 'INSERT INTO progress VALUES (1, 0)']) await sql.raw(statement).execute(db);
  table = (await readTargetTable(db, 'satellite/0', 'objects'))!;
});

afterAll(async () => {
  await db?.destroy();
});

/** ~300-byte rows as the bench's `object_rows` makes them, as the source prints them. */
function objectEvents(from: number, count: number): ChangeEvent[] {
  return Array.from({ length: count }, (_, offset) => {
    const g = from + offset;
    const md5ish = (g * 2654435761 % 2 ** 32).toString(16).padStart(8, '0').repeat(4);
    return {
      schema: 'satellite/0', table: 'objects', timestamp: 't', lsn: '0/1', commit_lsn: '0/1', xid: 1, seq: offset,
      operation: 'INSERT', old_data: null, unchanged_toast: [],
      data: {
        project_id: `00000000-0000-4000-8000-${(g % 997).toString(16).padStart(12, '0')}`,
        bucket_name: `\\x${Buffer.from(`bucket-${g % 7}`).toString('hex')}`,
        object_key: `\\x${Buffer.from(`objects/${md5ish}/${g}`).toString('hex')}`,
        version: '1', status: '1',
        created_at: '2025-01-01 00:00:00.123+00', expires_at: null,
        encrypted_metadata: `\\x${md5ish.repeat(9)}`,
        total_plain_size: String(g * 1024), total_encrypted_size: String(g * 1040),
      },
    } satisfies ChangeEvent;
  });
}

function backendTicks(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(fields[11]) + Number(fields[12]);
}

type Apply = (trx: BackupTransaction, client: pg.PoolClient, events: ChangeEvent[]) => Promise<void>;

// Today's path before COPY: every run through the upsert, MAX_RUN_ROWS rows per statement.
const upsert: Apply = async (trx, _client, events) => {
  for (const run of groupIntoRuns(events, () => table)) await executeInSlices(trx, run);
};
const copy: Apply = async (trx, client, events) => {
  const runs = new RunExecutor(trx, client);
  for (const run of groupIntoRuns(events, () => table)) await runs.execute(run);
};

async function measure(name: string, apply: Apply): Promise<string> {
  await sql`TRUNCATE "satellite/0".objects`.execute(db);
  const { rows } = await sql<{ pid: number }>`SELECT pg_backend_pid() AS pid`.execute(db);
  const pid = rows[0]!.pid;
  const batches = Array.from({ length: TRANSACTIONS }, (_, index) => objectEvents(index * ROWS, ROWS));
  const oneTransaction = (events: ChangeEvent[], lsn: number) =>
    transactionWithClient(pool, async (trx, client) => {
      await apply(trx, client, events);
      await sql`UPDATE progress SET lsn = ${lsn} WHERE id = 1`.execute(trx);
    });
  const ticksBefore = backendTicks(pid);
  const cpuBefore = process.cpuUsage();
  const started = performance.now();
  for (const [index, events] of batches.entries()) await oneTransaction(events, index);
  const elapsed = performance.now() - started;
  const cpu = process.cpuUsage(cpuBefore);
  const backendMicros = ((backendTicks(pid) - ticksBefore) / CLOCK_TICKS) * 1e6;
  const total = TRANSACTIONS * ROWS;

  // One 100,000-row transaction while a 1 ms timer measures the longest gap of the loop.
  const big = objectEvents(TRANSACTIONS * ROWS, 100_000);
  let last = performance.now();
  let longest = 0;
  const timer = setInterval(() => {
    const now = performance.now();
    longest = Math.max(longest, now - last);
    last = now;
  }, 1);
  await oneTransaction(big, -1);
  clearInterval(timer);

  const { rows: count } = await sql<{ n: string }>`SELECT count(*)::text AS n FROM "satellite/0".objects`.execute(db);
  expect(Number(count[0]!.n)).toBe(total + 100_000);
  return `${name}: backend ${(backendMicros / total).toFixed(1)} µs/row, client ${((cpu.user + cpu.system) / total).toFixed(1)} µs/row, ${(elapsed / 1000).toFixed(2)} s wall; 100k-row transaction: loop held at most ${longest.toFixed(1)} ms`;
}

describe.runIf(process.env['STORX_APPLY_COST'] === '1')('apply cost (measurement)', () => {
  it('objects, 100 × 1,000-row transactions: upsert vs COPY', { timeout: 1_800_000 }, async () => {
    const lines: string[] = [];
    // STORX_APPLY_COST_PATHS=copy measures one path only (for a profile).
    const paths = (process.env['STORX_APPLY_COST_PATHS'] ?? 'upsert,copy').split(',');
    const variants = ([['upsert', upsert], ['copy  ', copy]] as const).filter(([name]) => paths.includes(name.trim()));
    // Warm up (plans, caches), then measure each twice, interleaved.
    for (const [name, apply] of variants) await measure(`warm-up ${name}`, apply);
    // STORX_APPLY_COST_PROFILE=FILE: a CPU profile of the measured rounds, for Chrome DevTools.
    const profile = process.env['STORX_APPLY_COST_PROFILE'];
    const session = new Session();
    if (profile) {
      session.connect();
      await session.post('Profiler.enable');
      await session.post('Profiler.start');
    }
    for (let round = 0; round < 2; round++) {
      for (const [name, apply] of variants) lines.push(await measure(name, apply));
    }
    if (profile) writeFileSync(profile, JSON.stringify((await session.post('Profiler.stop')).profile));
    console.log(`\n${lines.join('\n')}\n`);
  });
});
