#!/bin/sh
# Runs once, on the first start with an empty data directory (docker-entrypoint-initdb.d), as
# the superuser. The receiver gets a role of its own, not a superuser, that owns the backup
# database: it creates the replicated tables and its state schema (backuptools_state) there.
set -eu
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres \
  --set=password="$RECEIVER_DB_PASSWORD" <<'SQL'
CREATE ROLE backuptools LOGIN PASSWORD :'password';
CREATE DATABASE backup OWNER backuptools;
SQL
