-- The local source database, as the seed describes StorXMonitor's: objects and segments in the
-- schema "satellite/0". Runs once, when the source-db volume is empty (docker-entrypoint-initdb.d),
-- as the database owner. LOCAL USE ONLY: the password below is in the repository.
-- The schema and tables below are also the tests' (packages/test-postgres/src/storj-schema.ts
-- reads them from this file): one definition of objects and segments in the repository.

CREATE SCHEMA "satellite/0";

CREATE TABLE "satellite/0".objects (
  project_id uuid NOT NULL,
  bucket_name bytea NOT NULL,
  object_key bytea NOT NULL,
  version bigint NOT NULL,
  status smallint NOT NULL DEFAULT 1,
  created_at timestamptz NOT NULL DEFAULT clock_timestamp(),
  expires_at timestamptz,
  encrypted_metadata bytea,
  total_plain_size bigint NOT NULL DEFAULT 0,
  total_encrypted_size numeric(20,0),
  PRIMARY KEY (project_id, bucket_name, object_key, version)
);

CREATE TABLE "satellite/0".segments (
  stream_id uuid NOT NULL,
  position bigint NOT NULL,
  root_piece_id bytea,
  encrypted_key bytea,
  remote_alias_pieces bytea,
  plain_size integer NOT NULL DEFAULT 0,
  PRIMARY KEY (stream_id, position)
);

-- The seed's step 2, with a role of its own rather than the owner: REPLICATION to create and
-- read the slot, CONNECT, USAGE on the schema and SELECT on the tables (what `doctor` checks).
CREATE ROLE storx_replicator LOGIN REPLICATION PASSWORD 'storx-local';
GRANT CONNECT ON DATABASE storx TO storx_replicator;
GRANT USAGE ON SCHEMA "satellite/0" TO storx_replicator;
GRANT SELECT ON ALL TABLES IN SCHEMA "satellite/0" TO storx_replicator;

-- Creating a publication FOR TABLE needs ownership of the tables, which the replication role
-- does not have: the owner creates it here, and `storx-replicator run` finds it and uses it.
CREATE PUBLICATION backuptools_pub FOR TABLE "satellite/0".objects, "satellite/0".segments;
