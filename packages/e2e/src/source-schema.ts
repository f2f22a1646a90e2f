import { STORJ_TABLE_KEYS, storjSchemaDdl, typeMatrixTableDdl, typeMatrixTypesDdl } from '@storx-backup/test-postgres';

const SCHEMA = 'satellite/0';

/**
 * What an operator creates on the backup before starting: the schema's user-defined types
 * (the receiver creates tables and columns itself but refuses types the backup lacks).
 */
export const BACKUP_PREREQUISITE_DDL = [`CREATE SCHEMA "${SCHEMA}"`, ...typeMatrixTypesDdl(SCHEMA)];

/**
 * A Storj-like source: `satellite/0` with objects, segments, a table with a TOAST-able column,
 * the awkward-types matrix and a table keyed by awkward types.
 */
export const SOURCE_SCHEMA_DDL = [
  ...storjSchemaDdl(), // CREATE SCHEMA, objects, segments (docker/local/source-init.sql)
  ...typeMatrixTypesDdl(SCHEMA),
  `CREATE TABLE "${SCHEMA}".toasty (id integer PRIMARY KEY, big text, counter integer NOT NULL DEFAULT 0)`,
  typeMatrixTableDdl(SCHEMA),
  `CREATE TABLE "${SCHEMA}".odd_keys (
     k_num numeric NOT NULL, k_tstz timestamptz NOT NULL, k_bytes bytea NOT NULL, k_text text NOT NULL, v integer,
     PRIMARY KEY (k_num, k_tstz, k_bytes, k_text))`,
];

/** Key order per table, for ordered hashes. */
export const TABLE_KEYS = {
  ...STORJ_TABLE_KEYS,
  toasty: 'id',
  types_matrix: 'id',
  odd_keys: 'k_num, k_tstz, k_bytes, k_text',
} as const;

/** The tables both services are configured to replicate. */
export const REPLICATED_TABLES = Object.keys(TABLE_KEYS);
