#!/bin/sh
# Promotes this PostgreSQL standby to a primary with pg_promote() (the seed's trigger file,
# promote_trigger_file, is gone since PostgreSQL 16; pg_ctl promote must run as the postgres
# user, never root: pg_promote() works from any superuser connection, in or out of a
# container). Waits until the promotion is done (PG_PROMOTE_WAIT_SECONDS, 60) and prints the new
# timeline. Idempotent: a server that already is a primary is left alone.
#
# Before promoting: make sure the old master is down and stays down (a second primary forks the
# history; the backup receiver refuses it with SOURCE_TIMELINE_FORKED). docs/operations.md,
# "failover", has the whole runbook.
# Environment: POSTGRES_USER, POSTGRES_PASSWORD, POSTGRES_DB, PGHOST/PGPORT (local server).
# Exit status: 0 promoted (or already a primary), 2 failed.
set -eu
. "$(dirname "$0")/lib/pg-replication.sh"
need psql "install postgresql-client, or run it inside the postgres container"
: "${PG_PROMOTE_WAIT_SECONDS:=60}"
need_number PG_PROMOTE_WAIT_SECONDS "$PG_PROMOTE_WAIT_SECONDS"
recovery=$(local_value 'SELECT pg_is_in_recovery()') || die "cannot connect to the local PostgreSQL as $POSTGRES_USER: start it, or set PGHOST/PGPORT/POSTGRES_PASSWORD"
if [ "$recovery" = f ]; then
  echo "already a primary (timeline $(local_value 'SELECT timeline_id FROM pg_control_checkpoint()')): nothing to do"
  exit 0
fi
[ "$(local_value "SELECT pg_promote(true, $PG_PROMOTE_WAIT_SECONDS)")" = t ] || die "the promotion did not finish in $PG_PROMOTE_WAIT_SECONDS s: see the server's log"
local_value 'CHECKPOINT' >/dev/null
echo "promoted: now a primary on timeline $(local_value 'SELECT timeline_id FROM pg_control_checkpoint()'). Point writers here; the replicator follows by itself when this host is in its database URL"
