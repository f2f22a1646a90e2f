#!/bin/sh
# Points this host's Redis at a (new) master: REPLICAOF HOST PORT, then waits until the link is
# up. The step after a failover on the old master when it returns, before anything writes to
# it: what it took after the promotion is discarded by the resync (that is what a split brain
# costs; it is why redis-promote.sh refuses while it still answers).
#
# Usage: scripts/redis-follow.sh MASTER_HOST [MASTER_PORT] (port default 6380)
#   Environment: scripts/lib/redis.sh; REDIS_FOLLOW_TIMEOUT seconds to wait (default 60).
# Then: set REDIS_ROLE=replica and REDIS_MASTER_HOST=MASTER_HOST in this host's .env, so a
# restart keeps it a replica.
set -eu
. "$(dirname "$0")/lib/redis.sh"

[ $# -ge 1 ] && [ $# -le 2 ] || { echo "usage: redis-follow.sh MASTER_HOST [MASTER_PORT]" >&2; exit 2; }
new_host=$1
new_port=${2:-6380}
timeout=${REDIS_FOLLOW_TIMEOUT:-60}
redis_require

target=$(redis_at "$new_host" "$new_port" INFO replication 2>&1) || { echo "redis-follow: $new_host:$new_port does not answer: $target" >&2; exit 2; }
[ "$(info_field "$target" role)" = master ] || { echo "redis-follow: $new_host:$new_port is not a master (role $(info_field "$target" role)); promote it first (scripts/redis-promote.sh)" >&2; exit 2; }
redis_local PING >/dev/null || { echo "redis-follow: Redis at $REDIS_HOST:$REDIS_PORT does not answer" >&2; exit 2; }

reply=$(redis_local REPLICAOF "$new_host" "$new_port")
case "$reply" in OK*) ;; *) echo "redis-follow: REPLICAOF answered: $reply" >&2; exit 2 ;; esac
waited=0
while :; do
  info=$(redis_local INFO replication)
  [ "$(info_field "$info" master_link_status)" != up ] || break
  if [ "$waited" -ge "$timeout" ]; then
    echo "redis-follow: the link to $new_host:$new_port is not up after ${timeout}s; scripts/check-redis-status.sh replica shows why (and the Redis log)" >&2
    exit 1
  fi
  sleep 1
  waited=$((waited + 1))
done
echo "redis-follow: $REDIS_HOST:$REDIS_PORT now replicates from $new_host:$new_port (offset $(info_field "$info" slave_repl_offset))"
echo "next: set REDIS_ROLE=replica and REDIS_MASTER_HOST=$new_host in this host's .env"
