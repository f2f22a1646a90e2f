import { storjSchemaDdl } from '@storx-backup/test-postgres';

/** Schema of the replicated tables on the source (the Storj-like `satellite/0` of packages/e2e). */
export const SCHEMA = 'satellite/0';

/** Every replicated table: the replicator's and the receiver's `tables`, and both publications. */
export const TABLES = ['objects', 'narrow', 'ticks', 'bench_marker'] as const;
export type BenchTable = (typeof TABLES)[number];

// CREATE SCHEMA "satellite/0" and the objects and segments tables (docker/local/source-init.sql).
const STORJ = storjSchemaDdl();

// The functions that make rows: the same rows on the source (the load) and on the targets
// (the starting state of the update and delete workloads), so a run can be checked by digest.
const FUNCTIONS = [
  'CREATE SCHEMA bench',
  // ~300 bytes on disk per row: 144-byte metadata, a ~50-byte key, uuid, numbers, a timestamp.
  `CREATE FUNCTION bench.object_rows(lo bigint, hi bigint) RETURNS SETOF "satellite/0".objects
   LANGUAGE sql STABLE ROWS 1000 AS $$
     SELECT ('00000000-0000-4000-8000-' || lpad(to_hex(g % 997), 12, '0'))::uuid,
            convert_to('bucket-' || (g % 7), 'UTF8'),
            convert_to('objects/' || md5(g::text) || '/' || g, 'UTF8'),
            1::bigint, 1::smallint,
            timestamptz '2025-01-01 00:00:00+00' + g * interval '1 millisecond',
            NULL::timestamptz,
            decode(repeat(md5(g::text), 9), 'hex'),
            g * 1024, (g * 1040)::numeric(20,0)
     FROM generate_series(lo, hi) g $$`,
];

/** DDL of the source database. */
export const SOURCE_DDL = [
  ...STORJ,
  'CREATE TABLE "satellite/0".narrow (id bigint PRIMARY KEY, v integer NOT NULL)',
  `CREATE TABLE "satellite/0".ticks (id bigint PRIMARY KEY, committed_at timestamptz NOT NULL DEFAULT clock_timestamp(), payload bytea)`,
  'CREATE TABLE "satellite/0".bench_marker (id bigint PRIMARY KEY)',
  ...FUNCTIONS,
];

/**
 * DDL of each target database (native's and ours). The same tables, created up front (native
 * replication needs them; our receiver accepts tables that exist with the source's types), and
 * on `ticks` one more column: its default stamps the moment the row is applied, for the
 * commit-to-apply latency. Both appliers leave a column they do not know to its default.
 */
export const TARGET_DDL = [
  ...STORJ,
  'CREATE TABLE "satellite/0".narrow (id bigint PRIMARY KEY, v integer NOT NULL)',
  `CREATE TABLE "satellite/0".ticks (id bigint PRIMARY KEY, committed_at timestamptz NOT NULL DEFAULT clock_timestamp(), payload bytea,
     applied_at timestamptz NOT NULL DEFAULT clock_timestamp())`,
  'CREATE TABLE "satellite/0".bench_marker (id bigint PRIMARY KEY)',
  ...FUNCTIONS,
];

/** `"satellite/0".<table>` */
export function qualified(table: BenchTable): string {
  return `"${SCHEMA}".${table}`;
}
