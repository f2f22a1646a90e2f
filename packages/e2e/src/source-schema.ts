/** A Storj-like source: `satellite/0` with objects, segments and a table with a TOAST-able column. */
export const SOURCE_SCHEMA_DDL = [
  'CREATE SCHEMA "satellite/0"',
  `CREATE TABLE "satellite/0".objects (
     project_id uuid NOT NULL, bucket_name bytea NOT NULL, object_key bytea NOT NULL, version bigint NOT NULL,
     status smallint NOT NULL DEFAULT 1, created_at timestamptz NOT NULL DEFAULT clock_timestamp(), expires_at timestamptz,
     encrypted_metadata bytea, total_plain_size bigint NOT NULL DEFAULT 0, total_encrypted_size numeric(20,0),
     PRIMARY KEY (project_id, bucket_name, object_key, version))`,
  `CREATE TABLE "satellite/0".segments (
     stream_id uuid NOT NULL, position bigint NOT NULL, root_piece_id bytea, encrypted_key bytea,
     remote_alias_pieces bytea, plain_size integer NOT NULL DEFAULT 0,
     PRIMARY KEY (stream_id, position))`,
  `CREATE TABLE "satellite/0".toasty (id integer PRIMARY KEY, big text, counter integer NOT NULL DEFAULT 0)`,
];

/** Key order per table, for ordered hashes. */
export const TABLE_KEYS = {
  objects: 'project_id, bucket_name, object_key, version',
  segments: 'stream_id, position',
  toasty: 'id',
} as const;
