#!/bin/sh
# Prepares the PostgreSQL master for a streaming standby (the seed's "setup-master.sh"):
#   - the replication role POSTGRES_REPLICATOR_USER (LOGIN REPLICATION, POSTGRES_REPLICATOR_PASSWORD);
#   - the physical slot POSTGRES_REPLICA_SLOT (default replica1_slot), so the master keeps the
#     WAL the standby has not received;
#   - a pg_hba.conf line for replication from REPLICA_ADDRESS only (an address or CIDR; the
#     seed's advice: never 0.0.0.0/0), then a configuration reload;
#   - wal_level, max_wal_senders, max_replication_slots, hot_standby checked (ALTER SYSTEM when
#     too low; wal_level needs a restart, which it says).
# Idempotent: run it again and it changes nothing that is already right.
#
# Environment: POSTGRES_USER, POSTGRES_PASSWORD, POSTGRES_DB, POSTGRES_REPLICATOR_USER,
# POSTGRES_REPLICATOR_PASSWORD, REPLICA_ADDRESS (required), PGHOST/PGPORT for the local server.
# It must run where pg_hba.conf is writable (on the master host, or inside its container).
# Exit status: 0 done (or nothing to do), 1 done but a restart is needed, 2 refused.
set -eu
. "$(dirname "$0")/lib/pg-replication.sh"
need psql "install postgresql-client (Debian) or run it inside the postgres container"
[ -n "${POSTGRES_REPLICATOR_PASSWORD:-}" ] || die "POSTGRES_REPLICATOR_PASSWORD is not set: put it in .env (the seed's Master VPS section) and export it"
[ -n "${REPLICA_ADDRESS:-}" ] || die "REPLICA_ADDRESS is not set: the replica host's address (e.g. 10.0.0.2 or 10.0.0.2/32); pg_hba.conf allows replication from it alone"
# The address goes into pg_hba.conf: checked here, so a typo cannot leave a line that keeps
# PostgreSQL from starting at its next restart, or allow more than the replica.
case "$REPLICA_ADDRESS" in */*) replica_cidr=$REPLICA_ADDRESS ;; *:*) replica_cidr="$REPLICA_ADDRESS/128" ;; *) replica_cidr="$REPLICA_ADDRESS/32" ;; esac
printf '%s' "$replica_cidr" | grep -Eq '^([0-9]{1,3}\.){3}[0-9]{1,3}/([1-9]|[12][0-9]|3[0-2])$|^[0-9A-Fa-f:.]*:[0-9A-Fa-f:.]*/([1-9]|[1-9][0-9]|1[01][0-9]|12[0-8])$' ||
  die "REPLICA_ADDRESS=$REPLICA_ADDRESS is not the replica's address (e.g. 10.0.0.2, 10.0.0.0/24 or fd00::2; never a /0, which allows replication from anywhere)"
need_name POSTGRES_REPLICATOR_USER "$POSTGRES_REPLICATOR_USER"

local_value 'SELECT 1' >/dev/null || die "cannot connect to the local PostgreSQL as $POSTGRES_USER: start it, or set PGHOST/PGPORT/POSTGRES_PASSWORD"
[ "$(local_value 'SELECT pg_is_in_recovery()')" = f ] || die "this server is a standby (in recovery): run setup-master.sh on the master"

user=$(sql_ident "$POSTGRES_REPLICATOR_USER")
password=$(sql_literal "$POSTGRES_REPLICATOR_PASSWORD")
# The password goes through stdin, not psql's argument list (which `ps` shows to every local user).
if [ "$(local_value "SELECT count(*) FROM pg_roles WHERE rolname = $(sql_literal "$POSTGRES_REPLICATOR_USER")")" = 0 ]; then
  printf '%s\n' "CREATE ROLE $user WITH LOGIN REPLICATION PASSWORD $password;" | local_psql || die "cannot create role $POSTGRES_REPLICATOR_USER (above): run as a superuser (POSTGRES_USER)"
  echo "created role $POSTGRES_REPLICATOR_USER"
else
  printf '%s\n' "ALTER ROLE $user WITH LOGIN REPLICATION PASSWORD $password;" | local_psql || die "cannot change role $POSTGRES_REPLICATOR_USER (above): run as a superuser (POSTGRES_USER)"
  echo "role $POSTGRES_REPLICATOR_USER exists (REPLICATION and password set)"
fi

slot=$(sql_literal "$POSTGRES_REPLICA_SLOT")
if [ "$(local_value "SELECT count(*) FROM pg_replication_slots WHERE slot_name = $slot")" = 0 ]; then
  local_psql -c "SELECT pg_create_physical_replication_slot($slot)" >/dev/null || die "cannot create the physical slot $POSTGRES_REPLICA_SLOT (above): max_replication_slots may be all taken"
  echo "created physical slot $POSTGRES_REPLICA_SLOT"
else
  echo "physical slot $POSTGRES_REPLICA_SLOT exists"
fi

hba=$(local_value 'SHOW hba_file')
[ -w "$hba" ] || die "$hba is not writable here: run setup-master.sh on the master host (or in its container) as the postgres user or root"
# The standby streams over a replication connection; on 17+ its slot sync worker also opens an
# ordinary one to POSTGRES_DB (primary_conninfo's dbname) to read the failover slots.
lines="host replication $POSTGRES_REPLICATOR_USER $replica_cidr scram-sha-256"
[ "$(local_value 'SHOW server_version_num')" -ge 170000 ] && lines="$lines
host $(sql_ident "$POSTGRES_DB") $POSTGRES_REPLICATOR_USER $replica_cidr scram-sha-256"
missing=$(printf '%s\n' "$lines" | while IFS= read -r line; do grep -Fqx "$line" "$hba" || printf '%s\n' "$line"; done)
if [ -z "$missing" ]; then
  echo "pg_hba.conf allows replication from $replica_cidr"
else
  cp -p "$hba" "$hba.setup-master.bak"
  errors_before=$(local_value 'SELECT count(*) FROM pg_hba_file_rules WHERE error IS NOT NULL')
  printf '# setup-master.sh: the streaming standby\n%s\n' "$missing" >>"$hba"
  # pg_hba_file_rules reads the file as it is on disk: a line PostgreSQL would refuse is taken
  # back before the reload, not found at the next restart.
  if [ "$(local_value 'SELECT count(*) FROM pg_hba_file_rules WHERE error IS NOT NULL')" != "$errors_before" ]; then
    mv "$hba.setup-master.bak" "$hba"
    die "PostgreSQL refuses the pg_hba.conf line(s) \"$missing\" (SELECT * FROM pg_hba_file_rules WHERE error IS NOT NULL says why); $hba is unchanged"
  fi
  rm -f "$hba.setup-master.bak"
  local_value 'SELECT pg_reload_conf()' >/dev/null
  echo "pg_hba.conf: added \"$missing\" and reloaded"
fi

restart=0
wal_level=$(local_value 'SHOW wal_level')
# logical, not the seed's replica: this master also feeds the backup stream's logical slot (and
# on 17 a standby syncing failover slots needs it), so one restart sets both.
case "$wal_level" in
  logical) echo "wal_level = logical" ;;
  *)
    local_psql -c "ALTER SYSTEM SET wal_level = logical" || die "cannot set wal_level (above): run as a superuser"
    echo "wal_level was $wal_level: set to logical (the backup stream needs it too); RESTART PostgreSQL for it to apply"
    restart=1
    ;;
esac
for setting in max_wal_senders max_replication_slots; do
  value=$(local_value "SHOW $setting")
  if [ "$value" -lt 4 ]; then
    local_psql -c "ALTER SYSTEM SET $setting = 10" || die "cannot set $setting (above): run as a superuser"
    echo "$setting was $value: set to 10; RESTART PostgreSQL for it to apply"
    restart=1
  else
    echo "$setting = $value"
  fi
done
[ "$restart" = 0 ] && echo "master ready: run scripts/init-replica.sh on the replica host"
exit "$restart"
