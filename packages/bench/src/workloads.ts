import { connect } from '@storx-backup/test-postgres';
import type { BenchEnvironment } from './bench-environment.js';
import { type BenchTable, qualified } from './schema.js';

export const WORKLOAD_IDS = ['a', 'b', 'c', 'd', 'e', 'f', 'g'] as const;
export type WorkloadId = (typeof WORKLOAD_IDS)[number];

export const MODES = ['live', 'backlog'] as const;
/** live: replication runs during the load; backlog: the load first, then replication starts (catch-up). */
export type Mode = (typeof MODES)[number];

/** How big each workload is. */
export interface Sizes {
  /** (a) objects rows inserted, `txRows` per transaction. */
  inserts: number;
  /** (b) single-row transactions, spread over `clients` connections. */
  singleRowTx: number;
  clients: number;
  /** (c) rows updated by key, `txRows` per transaction. */
  updates: number;
  /** (d) rows deleted by key, `txRows` per transaction. */
  deletes: number;
  /** (e) narrow rows inserted, `txRows` per transaction. */
  narrowInserts: number;
  txRows: number;
  /** (f) single-row transactions at `tickRate` per second. */
  ticks: number;
  tickRate: number;
  /** (g) rows copied initially. */
  copyRows: number;
}

export const FULL_SIZES: Sizes = {
  inserts: 200_000,
  singleRowTx: 20_000,
  clients: 4,
  updates: 100_000,
  deletes: 100_000,
  narrowInserts: 200_000,
  txRows: 1_000,
  ticks: 200,
  tickRate: 50,
  copyRows: 1_000_000,
};

/** `--smoke`: every code path, in seconds. */
export const SMOKE_SIZES: Sizes = {
  inserts: 3_000,
  singleRowTx: 400,
  clients: 4,
  updates: 2_000,
  deletes: 2_000,
  narrowInserts: 3_000,
  txRows: 1_000,
  ticks: 20,
  tickRate: 50,
  copyRows: 5_000,
};

/** Row counts multiplied by `factor` (`--scale`); transaction size, clients and tick rate stay. */
export function scaleSizes(sizes: Sizes, factor: number): Sizes {
  const scale = (value: number): number => Math.max(1, Math.round(value * factor));
  return {
    ...sizes,
    inserts: scale(sizes.inserts),
    singleRowTx: Math.max(sizes.clients, scale(sizes.singleRowTx)),
    updates: scale(sizes.updates),
    deletes: scale(sizes.deletes),
    narrowInserts: scale(sizes.narrowInserts),
    ticks: scale(sizes.ticks),
    copyRows: scale(sizes.copyRows),
  };
}

/** A load measured in rows per second: (a)–(e). */
export interface ThroughputWorkload {
  kind: 'throughput';
  id: WorkloadId;
  title: string;
  table: BenchTable;
  /** Row changes the load makes (what rows/s counts). */
  rows: number;
  /** Brings the source and both targets to the state the load starts from. */
  prepare(env: BenchEnvironment): Promise<void>;
  /** Runs the load on the source; resolves when everything is committed. */
  load(sourceUrl: string): Promise<void>;
}

/** (f): commit-to-apply latency of a trickle of single-row transactions. */
export interface LatencyWorkload {
  kind: 'latency';
  id: WorkloadId;
  title: string;
  table: BenchTable;
  ticks: number;
  ratePerSecond: number;
}

/** (g): initial copy of existing rows. */
export interface CopyWorkload {
  kind: 'copy';
  id: WorkloadId;
  title: string;
  table: BenchTable;
  rows: number;
}

export type Workload = ThroughputWorkload | LatencyWorkload | CopyWorkload;

const OBJECTS = qualified('objects');
const NARROW = qualified('narrow');
const OBJECT_KEY_MATCH = '(o.project_id, o.bucket_name, o.object_key, o.version) = (k.project_id, k.bucket_name, k.object_key, k.version)';
// The load finds each row through the primary key, one index lookup per row like an apply
// does, not by hashing the whole table for every transaction.
const BY_KEY = ['SET enable_hashjoin = off', 'SET enable_mergejoin = off'];

export function workloads(sizes: Sizes): Record<WorkloadId, Workload> {
  const tx = sizes.txRows;
  const count = (rows: number): string =>
    rows >= 1_000_000 && rows % 1_000_000 === 0 ? `${rows / 1_000_000}M` : rows >= 1000 && rows % 1000 === 0 ? `${rows / 1000}k` : String(rows);
  return {
    a: {
      kind: 'throughput',
      id: 'a',
      title: `${count(sizes.inserts)} objects inserts, ${tx}/tx`,
      table: 'objects',
      rows: sizes.inserts,
      prepare: (env) => env.everywhere(`TRUNCATE ${OBJECTS}`),
      load: (url) => rangeLoad(url, sizes.inserts, tx, `INSERT INTO ${OBJECTS} SELECT * FROM bench.object_rows($1, $2)`),
    },
    b: {
      kind: 'throughput',
      id: 'b',
      title: `${count(sizes.singleRowTx)} single-row tx, ${sizes.clients} clients`,
      table: 'objects',
      rows: sizes.singleRowTx,
      prepare: (env) => env.everywhere(`TRUNCATE ${OBJECTS}`),
      load: (url) => concurrentSingleRows(url, sizes.singleRowTx, sizes.clients),
    },
    c: {
      kind: 'throughput',
      id: 'c',
      title: `${count(sizes.updates)} updates by key, ${tx}/tx`,
      table: 'objects',
      rows: sizes.updates,
      prepare: (env) => fillObjects(env, sizes.updates),
      load: (url) =>
        rangeLoad(
          url,
          sizes.updates,
          tx,
          `UPDATE ${OBJECTS} o SET status = 2, expires_at = o.created_at + interval '30 days', total_plain_size = o.total_plain_size + 1
           FROM bench.object_rows($1, $2) k WHERE ${OBJECT_KEY_MATCH}`,
          BY_KEY,
        ),
    },
    d: {
      kind: 'throughput',
      id: 'd',
      title: `${count(sizes.deletes)} deletes by key, ${tx}/tx`,
      table: 'objects',
      rows: sizes.deletes,
      prepare: (env) => fillObjects(env, sizes.deletes),
      load: (url) => rangeLoad(url, sizes.deletes, tx, `DELETE FROM ${OBJECTS} o USING bench.object_rows($1, $2) k WHERE ${OBJECT_KEY_MATCH}`, BY_KEY),
    },
    e: {
      kind: 'throughput',
      id: 'e',
      title: `${count(sizes.narrowInserts)} narrow inserts, ${tx}/tx`,
      table: 'narrow',
      rows: sizes.narrowInserts,
      prepare: (env) => env.everywhere(`TRUNCATE ${NARROW}`),
      load: (url) => rangeLoad(url, sizes.narrowInserts, tx, `INSERT INTO ${NARROW} SELECT g, (g % 1000)::integer FROM generate_series($1::bigint, $2::bigint) g`),
    },
    f: { kind: 'latency', id: 'f', title: `trickle: ${sizes.ticks} single-row tx at ${sizes.tickRate}/s`, table: 'ticks', ticks: sizes.ticks, ratePerSecond: sizes.tickRate },
    g: { kind: 'copy', id: 'g', title: `initial copy of ${count(sizes.copyRows)} objects rows`, table: 'objects', rows: sizes.copyRows },
  };
}

/** Source and both targets hold the same `rows` objects rows (updates and deletes start there). */
async function fillObjects(env: BenchEnvironment, rows: number): Promise<void> {
  await env.everywhere(`TRUNCATE ${OBJECTS}`);
  await env.everywhere(`INSERT INTO ${OBJECTS} SELECT * FROM bench.object_rows(1, $1)`, [rows]);
  await env.everywhere(`ANALYZE ${OBJECTS}`);
}

/** `statement($1 = lo, $2 = hi)` for consecutive ranges of `perTx` rows, each its own transaction. */
async function rangeLoad(url: string, rows: number, perTx: number, statement: string, setup: readonly string[] = []): Promise<void> {
  const client = await connect(url);
  try {
    for (const command of setup) await client.query(command);
    for (let lo = 1; lo <= rows; lo += perTx) await client.query(statement, [lo, Math.min(rows, lo + perTx - 1)]);
  } finally {
    await client.end();
  }
}

/** `rows` single-row transactions from `clients` connections at once, each with its own key range. */
async function concurrentSingleRows(url: string, rows: number, clients: number): Promise<void> {
  const perClient = Math.ceil(rows / clients);
  await Promise.all(
    Array.from({ length: clients }, async (_, index) => {
      const client = await connect(url);
      try {
        const last = Math.min(rows, (index + 1) * perClient);
        for (let id = index * perClient + 1; id <= last; id += 1) await client.query(`INSERT INTO ${OBJECTS} SELECT * FROM bench.object_rows($1, $1)`, [id]);
      } finally {
        await client.end();
      }
    }),
  );
}

/** (f)'s load: `ticks` single-row inserts, one every 1/rate s on a fixed schedule (late ones go at once). */
export async function trickleLoad(url: string, ticks: number, ratePerSecond: number): Promise<void> {
  const client = await connect(url);
  try {
    const start = performance.now();
    const payload = Buffer.alloc(100, 7);
    for (let id = 1; id <= ticks; id += 1) {
      const due = start + ((id - 1) * 1000) / ratePerSecond;
      const wait = due - performance.now();
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
      await client.query(`INSERT INTO ${qualified('ticks')} (id, payload) VALUES ($1, $2)`, [id, payload]);
    }
  } finally {
    await client.end();
  }
}
