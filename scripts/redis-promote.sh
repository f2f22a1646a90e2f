#!/bin/sh
# Promotes this host's Redis replica to master (REPLICAOF NO ONE), the seed's "Promote Redis
# Replica" with the checks it lacks. Run it on the replica host.
#
# Usage: scripts/redis-promote.sh [--force]
#   Refuses while the old master still answers as a master, since two masters taking writes
#   is a split brain: stop the old master (or its clients) first, or pass --force when it
#   is only unreachable from here and you know it is down. Environment: scripts/lib/redis.sh.
# Then: set REDIS_ROLE=master in this host's .env (a restart would otherwise make it follow
# the old master again), point the applications at this host, and when the old master
# returns run scripts/redis-follow.sh THIS_HOST on it before anything writes to it.
set -eu
. "$(dirname "$0")/lib/redis.sh"

force=no
case "${1:-}" in '') ;; --force) force=yes ;; *) echo "usage: redis-promote.sh [--force]" >&2; exit 2 ;; esac
redis_require

info=$(redis_local INFO replication) || { echo "redis-promote: Redis at $REDIS_HOST:$REDIS_PORT does not answer" >&2; exit 2; }
role=$(info_field "$info" role)
if [ "$role" = master ]; then
  echo "redis-promote: $REDIS_HOST:$REDIS_PORT is already a master; nothing to do"
  exit 0
fi
master_host=$(info_field "$info" master_host)
master_port=$(info_field "$info" master_port)
offset=$(info_field "$info" slave_repl_offset)
if master_info=$(redis_at "$master_host" "$master_port" INFO replication 2>/dev/null) &&
  [ "$(info_field "$master_info" role)" = master ]; then
  if [ "$force" = no ]; then
    echo "redis-promote: the master $master_host:$master_port still answers as a master (offset $(info_field "$master_info" master_repl_offset), ours $offset)." >&2
    echo "  Promoting now would leave two masters taking writes. Stop it first, or for a planned switchover run FAILOVER on it; --force promotes anyway." >&2
    exit 2
  fi
  echo "redis-promote: --force: the master $master_host:$master_port still answers; it must not take writes any more"
fi

reply=$(redis_local REPLICAOF NO ONE)
[ "$reply" = OK ] || { echo "redis-promote: REPLICAOF NO ONE answered: $reply" >&2; exit 2; }
role=$(info_field "$(redis_local INFO replication)" role)
[ "$role" = master ] || { echo "redis-promote: still $role after REPLICAOF NO ONE" >&2; exit 2; }
echo "redis-promote: $REDIS_HOST:$REDIS_PORT is now the master (it had replicated up to offset $offset from $master_host:$master_port)"
echo "next: set REDIS_ROLE=master in this host's .env; point the applications here; when the old master returns, run on it: scripts/redis-follow.sh <this host>"
