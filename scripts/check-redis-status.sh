#!/bin/sh
# Redis replication status on this host: role, link status, the master's and the replica's
# offsets, the lag in bytes and the seconds since the last I/O, and the full resyncs so far.
#
# Usage: scripts/check-redis-status.sh [master|replica]
#   With a role, a server in the other role is critical (a failover happened, or the wrong
#   host). Environment: see scripts/lib/redis.sh (REDIS_PASSWORD, REDIS_TLS_DIR, ...);
#   REDIS_MAX_LAG_SECONDS (default 30, the seed's alert) for the warning.
#
# Exit status: 0 ok, 1 warning, 2 critical (also: Redis unreachable, or a usage error).
#   critical: unreachable or refused; not in the expected role; a replica whose link is down
#   warning:  a master without an online replica; lag over REDIS_MAX_LAG_SECONDS; a replica
#             behind by more than half the master's repl-backlog-size (a cut now would cost a
#             full resync); a sync in progress
set -eu
. "$(dirname "$0")/lib/redis.sh"

expected=${1:-}
case "$expected" in '' | master | replica) ;; *) echo "usage: check-redis-status.sh [master|replica]" >&2; exit 2 ;; esac
: "${REDIS_MAX_LAG_SECONDS:=30}"
redis_require

worst=0
say() { # LEVEL TEXT: 0 ok, 1 warning, 2 critical
  case "$1" in 0) mark='✓' ;; 1) mark='!' ;; *) mark='✗' ;; esac
  [ "$1" -le "$worst" ] || worst=$1
  echo "$mark $2"
}
finish() {
  case "$worst" in 0) echo "redis status: ok" ;; 1) echo "redis status: warning" ;; *) echo "redis status: critical" ;; esac
  exit "$worst"
}

where="$REDIS_HOST:$REDIS_PORT"
if ! info=$(redis_local INFO replication 2>&1) || [ "$(info_field "$info" role)" = "" ]; then
  say 2 "redis $where: unreachable or refused: $(printf '%s' "$info" | head -1)"
  finish
fi
stats=$(redis_local INFO stats)
role=$(info_field "$info" role)
[ "$role" = slave ] && role=replica
full=$(info_field "$stats" sync_full)
partial=$(info_field "$stats" sync_partial_ok)

if [ -n "$expected" ] && [ "$role" != "$expected" ]; then
  say 2 "redis $where: role $role, expected $expected (after a failover: scripts/redis-promote.sh or scripts/redis-follow.sh; docs/operations.md, \"Redis failover\")"
else
  say 0 "redis $where: role $role"
fi

if [ "$role" = master ]; then
  offset=$(info_field "$info" master_repl_offset)
  backlog=$(info_field "$info" repl_backlog_size)
  count=$(info_field "$info" connected_slaves)
  echo "  master_repl_offset $offset, repl_backlog_size $backlog, full resyncs served $full, partial $partial"
  online=0
  i=0
  while [ "$i" -lt "$count" ]; do
    # slave0:ip=10.0.0.2,port=6380,state=online,offset=123,lag=0
    line=$(info_field "$info" "slave$i")
    field() { printf '%s\n' "$line" | tr ',' '\n' | awk -F= -v k="$1" '$1 == k { print $2 }'; }
    state=$(field state)
    replica_offset=$(field offset)
    lag=$(field lag)
    behind=$((offset - replica_offset))
    text="replica $(field ip):$(field port): $state, offset $replica_offset, behind $behind bytes, last ack ${lag}s ago"
    if [ "$state" != online ]; then
      say 1 "$text (syncing)"
    elif [ "$lag" -gt "$REDIS_MAX_LAG_SECONDS" ]; then
      say 1 "$text (over ${REDIS_MAX_LAG_SECONDS}s)"
    elif [ "$behind" -gt $((backlog / 2)) ]; then
      say 1 "$text (over half the backlog: a cut now means a full resync)"
    else
      online=$((online + 1))
      say 0 "$text"
    fi
    i=$((i + 1))
  done
  [ "$count" -gt 0 ] || say 1 "no replica connected (is the replica host's Redis running and able to reach $where?)"
  finish
fi

# A replica.
master_host=$(info_field "$info" master_host)
master_port=$(info_field "$info" master_port)
link=$(info_field "$info" master_link_status)
last_io=$(info_field "$info" master_last_io_seconds_ago)
replica_offset=$(info_field "$info" slave_repl_offset)
syncing=$(info_field "$info" master_sync_in_progress)
master_offset=""
if master_info=$(redis_at "$master_host" "$master_port" INFO replication 2>/dev/null); then
  master_offset=$(info_field "$master_info" master_repl_offset)
  backlog=$(info_field "$master_info" repl_backlog_size)
fi
if [ "$link" = up ]; then
  say 0 "link to master $master_host:$master_port: up, last I/O ${last_io}s ago"
else
  down=$(info_field "$info" master_link_down_since_seconds)
  say 2 "link to master $master_host:$master_port: $link (down for ${down}s; reads are served from stale data)"
fi
if [ -z "$master_offset" ]; then
  say 1 "replica offset $replica_offset; master offset unknown (master $master_host:$master_port does not answer from here)"
else
  behind=$((master_offset - replica_offset))
  text="master_repl_offset $master_offset, slave_repl_offset $replica_offset: behind $behind bytes"
  if [ "$link" = up ] && [ "$last_io" -gt "$REDIS_MAX_LAG_SECONDS" ]; then
    say 1 "$text, no I/O for ${last_io}s (over ${REDIS_MAX_LAG_SECONDS}s)"
  elif [ "$behind" -gt $((backlog / 2)) ]; then
    say 1 "$text (over half the master's backlog: a cut now means a full resync)"
  else
    say 0 "$text"
  fi
fi
[ "$syncing" = 0 ] || say 1 "a sync from the master is in progress"
finish
