#!/bin/sh
# Runs once, on the first start with an empty data directory (docker-entrypoint-initdb.d), as
# the database owner. The seed's step 2 with a role of its own: REPLICATION lets it create and
# read the slot; CONNECT lets it in. USAGE and SELECT on the replicated tables, and the
# publication, come once the application has created its tables (docs/operations.md, step 2).
set -eu
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
  --set=password="$REPLICATOR_DB_PASSWORD" --set=database="$POSTGRES_DB" <<'SQL'
CREATE ROLE storx_replicator LOGIN REPLICATION PASSWORD :'password';
GRANT CONNECT ON DATABASE :"database" TO storx_replicator;
SQL
