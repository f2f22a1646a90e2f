#!/bin/sh
# PostgreSQL streaming replication status for this host's role (the seed's
# "check-replication-status.sh master|replica"), and Redis's when REDIS_PASSWORD is set
# (scripts/check-redis-status.sh, same role).
#
#   master:  each standby (client, state, sent/write/flush/replay lag in bytes from
#            pg_wal_lsn_diff, replay lag in seconds) and each physical slot (active, wal_status)
#   replica: in recovery, the WAL receiver's state, received and replayed LSN and the gap
#            between them in bytes, and the replay lag in seconds
#
# Lag in seconds on a replica counts only while something received is not yet replayed: an
# idle master writes no transactions, so now() - pg_last_xact_replay_timestamp() grows without
# any lag (the seed's query would raise a false alarm every quiet night).
#
# Environment: POSTGRES_USER, POSTGRES_PASSWORD, POSTGRES_DB, PGHOST/PGPORT (local server);
# MAX_LAG_SECONDS (30, the seed's alert); REDIS_* (see scripts/check-redis-status.sh).
# Exit status: 0 ok, 1 warning, 2 critical (also: unreachable, usage error).
#   critical: unreachable; not in the role asked for; master with no streaming standby or a
#             lost slot; replica whose WAL receiver is not streaming
#   warning:  an inactive physical slot (WAL piles up on the master); lag over MAX_LAG_SECONDS
set -eu
. "$(dirname "$0")/lib/pg-replication.sh"
role=${1:-}
case "$role" in master | replica) ;; *) echo "usage: check-replication-status.sh master|replica" >&2; exit 2 ;; esac
need psql "install postgresql-client, or run it inside the postgres container"
: "${MAX_LAG_SECONDS:=30}"
need_number MAX_LAG_SECONDS "$MAX_LAG_SECONDS"

worst=0
say() { # LEVEL TEXT: 0 ok, 1 warning, 2 critical
  case "$1" in 0) mark='✓' ;; 1) mark='!' ;; *) mark='✗' ;; esac
  [ "$1" -le "$worst" ] || worst=$1
  echo "$mark $2"
}
finish() {
  if [ -n "${REDIS_PASSWORD:-}" ]; then
    set +e
    "$(dirname "$0")/check-redis-status.sh" "$role"
    redis=$?
    set -e
    [ "$redis" -le "$worst" ] || worst=$redis
  fi
  case "$worst" in 0) echo "replication status: ok" ;; 1) echo "replication status: warning" ;; *) echo "replication status: critical" ;; esac
  exit "$worst"
}

if ! recovery=$(local_value 'SELECT pg_is_in_recovery()' 2>&1); then
  say 2 "postgresql: unreachable: $(printf '%s' "$recovery" | head -1)"
  finish
fi

if [ "$role" = master ]; then
  if [ "$recovery" = t ]; then
    say 2 "postgresql: is_replica=true, but this host should be the master (wrong host, or it was demoted)"
    finish
  fi
  say 0 "postgresql: master, current WAL $(local_value 'SELECT pg_current_wal_lsn()')"
  standbys=$(local_value "SELECT coalesce(host(client_addr), 'local') || ' ' || application_name || ' state=' || state
      || ' sent_lag=' || coalesce(pg_wal_lsn_diff(pg_current_wal_lsn(), sent_lsn)::bigint, 0) || 'B'
      || ' write_lag=' || coalesce(pg_wal_lsn_diff(pg_current_wal_lsn(), write_lsn)::bigint, 0) || 'B'
      || ' flush_lag=' || coalesce(pg_wal_lsn_diff(pg_current_wal_lsn(), flush_lsn)::bigint, 0) || 'B'
      || ' replay_lag=' || coalesce(pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn)::bigint, 0) || 'B/'
      || coalesce(round(extract(epoch FROM replay_lag)::numeric, 1), 0) || 's'
      || ' sync=' || sync_state || ' ' || (extract(epoch FROM coalesce(replay_lag, '0'::interval)) > $MAX_LAG_SECONDS)
    FROM pg_stat_replication ORDER BY application_name")
  if [ -z "$standbys" ]; then
    say 2 "no standby connected (pg_stat_replication is empty): start the replica, check its log and scripts/check-replication-status.sh replica there"
  else
    printf '%s\n' "$standbys" | while IFS= read -r line; do
      case "$line" in *' true') echo "! standby ${line% true} (replay lag over ${MAX_LAG_SECONDS}s)" ;; *) echo "✓ standby ${line% false}" ;; esac
    done
    case "$standbys" in *' true'*) say 1 "a standby lags more than ${MAX_LAG_SECONDS}s" ;; esac
    printf '%s\n' "$standbys" | grep -q 'state=streaming' || say 2 "no standby is streaming"
  fi
  slots=$(local_value "SELECT slot_name || ' active=' || active || ' wal_status=' || coalesce(wal_status, '?') FROM pg_replication_slots WHERE slot_type = 'physical' ORDER BY slot_name")
  if [ -z "$slots" ]; then
    say 1 "no physical replication slot: without one the master may recycle WAL the standby still needs (scripts/setup-master.sh creates it)"
  else
    for slot in $(printf '%s\n' "$slots" | sed 's/ /|/g'); do
      text=$(printf '%s' "$slot" | sed 's/|/ /g')
      case "$text" in
        *wal_status=lost*) say 2 "physical slot $text: the standby can no longer catch up; rebuild it (scripts/init-replica.sh on an emptied PGDATA)" ;;
        *active=false*) say 1 "physical slot $text: no standby uses it, WAL piles up on the master; start the standby, or drop the slot if it is gone for good" ;;
        *) say 0 "physical slot $text" ;;
      esac
    done
  fi
else
  if [ "$recovery" != t ]; then
    say 2 "postgresql: is_replica=false: this host is a primary (promoted?); if that is intended, check it as master"
    finish
  fi
  receiver=$(local_value "SELECT status || ' from ' || coalesce(sender_host, '?') || ':' || coalesce(sender_port::text, '?') || ' slot=' || coalesce(slot_name, '-') FROM pg_stat_wal_receiver")
  case "$receiver" in
    streaming*) say 0 "postgresql: is_replica=true, WAL receiver $receiver" ;;
    '') say 2 "postgresql: is_replica=true, but no WAL receiver runs: the master is unreachable or refuses it (see this server's log; primary_conninfo, pg_hba.conf on the master)" ;;
    *) say 2 "postgresql: is_replica=true, WAL receiver $receiver (not streaming)" ;;
  esac
  # Seconds count only while received WAL waits for replay: an idle master is not lag.
  position=$(local_value "SELECT coalesce(pg_last_wal_receive_lsn()::text, '-') || ' ' || coalesce(pg_last_wal_replay_lsn()::text, '-') || ' '
      || coalesce(pg_wal_lsn_diff(pg_last_wal_receive_lsn(), pg_last_wal_replay_lsn())::bigint, 0) || ' '
      || CASE WHEN pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() THEN 0
              ELSE coalesce(round(extract(epoch FROM now() - pg_last_xact_replay_timestamp())::numeric, 1), 0) END")
  set -- $position
  if [ "${4%.*}" -ge "$MAX_LAG_SECONDS" ]; then
    say 1 "received $1, replayed $2: $3 bytes not yet replayed, replay lag ${4}s (over ${MAX_LAG_SECONDS}s)"
  else
    say 0 "received $1, replayed $2: $3 bytes not yet replayed, replay lag ${4}s"
  fi
fi
finish
