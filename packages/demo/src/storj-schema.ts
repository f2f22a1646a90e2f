/** The schema the demo replicates, as in StorXMonitor (a Storj satellite): `satellite/0`. */
export const SCHEMA = 'satellite/0';

/**
 * `objects` and `segments` shaped like the Storj satellite's metabase tables: binary keys,
 * encrypted metadata (sometimes large enough to be stored out of line, TOAST), microsecond
 * timestamps, sizes as int8.
 */
export const SCHEMA_DDL = [
  `CREATE SCHEMA "${SCHEMA}"`,
  `CREATE TABLE "${SCHEMA}".objects (
     project_id                       bytea       NOT NULL,
     bucket_name                      bytea       NOT NULL,
     object_key                       bytea       NOT NULL,
     version                          int8        NOT NULL,
     stream_id                        bytea       NOT NULL,
     created_at                       timestamptz NOT NULL DEFAULT now(),
     expires_at                       timestamptz,
     status                           int2        NOT NULL DEFAULT 1,
     segment_count                    int4        NOT NULL DEFAULT 0,
     encrypted_metadata_nonce         bytea,
     encrypted_metadata               bytea,
     encrypted_metadata_encrypted_key bytea,
     total_plain_size                 int8        NOT NULL DEFAULT 0,
     total_encrypted_size             int8        NOT NULL DEFAULT 0,
     fixed_segment_size               int4        NOT NULL DEFAULT 0,
     encryption                       int8        NOT NULL DEFAULT 0,
     zombie_deletion_deadline         timestamptz DEFAULT now() + interval '1 day',
     PRIMARY KEY (project_id, bucket_name, object_key, version))`,
  `CREATE TABLE "${SCHEMA}".segments (
     stream_id           bytea       NOT NULL,
     position            int8        NOT NULL,
     created_at          timestamptz NOT NULL DEFAULT now(),
     repaired_at         timestamptz,
     expires_at          timestamptz,
     root_piece_id       bytea       NOT NULL,
     encrypted_key_nonce bytea       NOT NULL,
     encrypted_key       bytea       NOT NULL,
     encrypted_size      int4        NOT NULL,
     plain_offset        int8        NOT NULL,
     plain_size          int4        NOT NULL,
     encrypted_etag      bytea,
     redundancy          int8        NOT NULL DEFAULT 0,
     inline_data         bytea,
     remote_alias_pieces bytea,
     placement           int4,
     PRIMARY KEY (stream_id, position))`,
];

/** The replicated tables and their key order (for the ordered hash). */
export const TABLES = {
  objects: 'project_id, bucket_name, object_key, version',
  segments: 'stream_id, position',
} as const;

export type TableName = keyof typeof TABLES;
export const TABLE_NAMES = Object.keys(TABLES) as TableName[];
