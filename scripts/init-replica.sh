#!/bin/sh
# Makes PGDATA a streaming standby of the master (the seed's "init-replica.sh"): waits for the
# master, creates the physical slot there if missing, copies the master with pg_basebackup, and
# configures standby mode: standby.signal, primary_conninfo (with dbname=, so a PostgreSQL 17
# standby can sync failover slots), primary_slot_name, hot_standby_feedback = on, and on a
# PostgreSQL 17+ master sync_replication_slots = on and wal_level = logical. It does not
# start the server: the container's entrypoint (or pg_ctl, as the postgres user) does.
# Idempotent: a PGDATA that already is a standby is left alone; a PGDATA holding another
# cluster is refused, never overwritten. Resumable: the copy is made in PGDATA/.init-replica and
# configured there, then moved into place; a run stopped during the copy is started again, one
# stopped while moving the finished copy is finished.
#
# Environment: POSTGRES_MASTER_HOST (required), POSTGRES_MASTER_PORT (5432),
# POSTGRES_REPLICATOR_USER, POSTGRES_REPLICATOR_PASSWORD (required), POSTGRES_DB (dbname in
# primary_conninfo), POSTGRES_REPLICA_SLOT (replica1_slot), PGDATA (required),
# POSTGRES_MASTER_WAIT_SECONDS (300), POSTGRES_OS_USER (postgres: owner of PGDATA when run as root).
# Exit status: 0 done (or nothing to do), 2 refused or failed.
set -eu
. "$(dirname "$0")/lib/pg-replication.sh"
need pg_basebackup "install postgresql-client of the master's major version (Debian: postgresql-client-NN), or run it inside the postgres image"
need pg_isready "install postgresql-client"
[ -n "${POSTGRES_MASTER_HOST:-}" ] || die "POSTGRES_MASTER_HOST is not set: the master's address (the seed's Replica VPS .env)"
[ -n "${POSTGRES_REPLICATOR_PASSWORD:-}" ] || die "POSTGRES_REPLICATOR_PASSWORD is not set: the password setup-master.sh gave the replication role"
[ -n "${PGDATA:-}" ] || die "PGDATA is not set: the standby's data directory (the image's /var/lib/postgresql/data)"
: "${POSTGRES_MASTER_PORT:=5432}"
: "${POSTGRES_MASTER_WAIT_SECONDS:=300}"
: "${POSTGRES_OS_USER:=postgres}"
need_number POSTGRES_MASTER_WAIT_SECONDS "$POSTGRES_MASTER_WAIT_SECONDS"
need_number POSTGRES_MASTER_PORT "$POSTGRES_MASTER_PORT"
need_name POSTGRES_REPLICA_SLOT "$POSTGRES_REPLICA_SLOT"

# Inside PGDATA (often a volume's mount point, which cannot be renamed); moved up file by file.
staging="$PGDATA/.init-replica"
move_into_place() {
  for entry in "$staging"/*; do
    [ -e "$entry" ] || continue
    mv "$entry" "$PGDATA/"
  done
  rm -f "$staging/.configured"
  rmdir "$staging"
  if [ "$(id -u)" = 0 ]; then
    id "$POSTGRES_OS_USER" >/dev/null 2>&1 || die "running as root, but user $POSTGRES_OS_USER does not exist: set POSTGRES_OS_USER to the user PostgreSQL runs as"
    chown -R "$POSTGRES_OS_USER" "$PGDATA"
  fi
}
if [ -d "$staging" ]; then
  if [ -f "$staging/.configured" ]; then
    echo "an earlier init-replica.sh stopped while moving its finished copy into $PGDATA: finishing that"
    move_into_place
  elif [ -z "$(ls -A "$PGDATA" | grep -Fvx '.init-replica')" ]; then
    echo "an earlier init-replica.sh stopped during its copy: removing the partial copy and copying again"
    rm -rf "$staging"
  else
    die "$PGDATA holds files beside an unfinished copy in $staging: move them away (or empty $PGDATA) and run it again"
  fi
fi
if [ -f "$PGDATA/PG_VERSION" ]; then
  if [ -f "$PGDATA/standby.signal" ]; then
    echo "$PGDATA is already a standby: nothing to do (scripts/check-replication-status.sh replica shows its state)"
    exit 0
  fi
  die "$PGDATA holds a cluster that is not a standby (a promoted standby, or another database): to rebuild it as a standby of $POSTGRES_MASTER_HOST, stop it and move the directory away first"
fi
if [ -d "$PGDATA" ] && [ -n "$(ls -A "$PGDATA")" ]; then
  die "$PGDATA is not empty and holds no cluster: empty it (pg_basebackup needs an empty directory)"
fi

export PGPASSWORD="$POSTGRES_REPLICATOR_PASSWORD"
waited=0
until pg_isready -q -h "$POSTGRES_MASTER_HOST" -p "$POSTGRES_MASTER_PORT"; do
  [ "$waited" -lt "$POSTGRES_MASTER_WAIT_SECONDS" ] || die "the master $POSTGRES_MASTER_HOST:$POSTGRES_MASTER_PORT did not answer in $POSTGRES_MASTER_WAIT_SECONDS s: start it, open port $POSTGRES_MASTER_PORT between the hosts (nc -zv $POSTGRES_MASTER_HOST $POSTGRES_MASTER_PORT)"
  echo "waiting for the master $POSTGRES_MASTER_HOST:$POSTGRES_MASTER_PORT ..."
  sleep 2
  waited=$((waited + 2))
done

# libpq conninfo values in single quotes (backslash escapes), so any password works.
conninfo_value() { printf "'%s'" "$(printf '%s' "$1" | sed -e 's/\\/\\\\/g' -e "s/'/\\\\'/g")"; }
replication="host=$(conninfo_value "$POSTGRES_MASTER_HOST") port=$POSTGRES_MASTER_PORT user=$(conninfo_value "$POSTGRES_REPLICATOR_USER") replication=true dbname=replication"
if out=$(psql -X -At "$replication" -c "CREATE_REPLICATION_SLOT $POSTGRES_REPLICA_SLOT PHYSICAL RESERVE_WAL" 2>&1); then
  echo "created physical slot $POSTGRES_REPLICA_SLOT on the master"
elif printf '%s' "$out" | grep -q 'already exists'; then
  echo "physical slot $POSTGRES_REPLICA_SLOT exists on the master"
else
  die "cannot create the slot on the master: $out (run scripts/setup-master.sh there with REPLICA_ADDRESS set to this host)"
fi

# Not guessed when it cannot be read: on 17+ it decides whether the standby keeps a synced copy
# of the failover slot, without which a promotion stops the backup stream.
master_version=$(psql -X -At "$replication" -c 'SHOW server_version_num' 2>&1) ||
  die "cannot read the master's version: $master_version (check the replication user's password and pg_hba.conf on the master)"
need_number "the master's server_version_num" "$master_version"
mkdir -p "$PGDATA"
chmod 700 "$PGDATA"
echo "copying the master with pg_basebackup into $staging ..."
if ! pg_basebackup -h "$POSTGRES_MASTER_HOST" -p "$POSTGRES_MASTER_PORT" -U "$POSTGRES_REPLICATOR_USER" -D "$staging" -X stream -S "$POSTGRES_REPLICA_SLOT" -c fast --no-password; then
  rm -rf "$staging"
  die "pg_basebackup failed (above): an older pg_basebackup than the master's major version cannot copy it; check the password and pg_hba.conf on the master"
fi

conninfo="host=$(conninfo_value "$POSTGRES_MASTER_HOST") port=$POSTGRES_MASTER_PORT user=$(conninfo_value "$POSTGRES_REPLICATOR_USER") password=$(conninfo_value "$POSTGRES_REPLICATOR_PASSWORD") dbname=$(conninfo_value "$POSTGRES_DB") application_name=$(conninfo_value "$POSTGRES_REPLICA_SLOT")"
{
  echo "# init-replica.sh: streaming standby of $POSTGRES_MASTER_HOST:$POSTGRES_MASTER_PORT"
  # postgresql.conf string: backslashes doubled, quotes doubled (printf: dash's echo eats backslashes).
  printf "primary_conninfo = '%s'\n" "$(printf '%s' "$conninfo" | sed -e 's/\\/\\\\/g' -e "s/'/''/g")"
  echo "primary_slot_name = '$POSTGRES_REPLICA_SLOT'"
  echo "hot_standby = on"
  echo "hot_standby_feedback = on"
  if [ "$master_version" -ge 170000 ]; then
    # PostgreSQL 17: keep a synced copy of the replicator's failover slot (docs/operations.md, "failover").
    echo "sync_replication_slots = on"
    echo "wal_level = logical"
  fi
} >>"$staging/postgresql.auto.conf"
touch "$staging/standby.signal"
chmod 600 "$staging/postgresql.auto.conf"
# From here a rerun finishes the move instead of copying again.
touch "$staging/.configured"
move_into_place
echo "$PGDATA is a standby of $POSTGRES_MASTER_HOST:$POSTGRES_MASTER_PORT (slot $POSTGRES_REPLICA_SLOT): start PostgreSQL on it (as $POSTGRES_OS_USER, never root)"
