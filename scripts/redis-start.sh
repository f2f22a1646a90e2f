#!/bin/sh
# Starts Redis in its role on this host: renders redis/redis.conf (master) or
# redis/redis-replica.conf (replica) with scripts/redis-render-config.sh, which refuses to
# write a file with a placeholder left, then replaces itself with redis-server.
#
# Usage: scripts/redis-start.sh [master|replica] [extra redis-server arguments]
#   The role defaults to REDIS_ROLE. After a failover change REDIS_ROLE (and REDIS_MASTER_HOST)
#   in .env before the next start: a promoted replica restarted as "replica" would follow the
#   old master again; an old master restarted as "master" takes writes beside the new one.
#   REDIS_TEMPLATE_DIR   default: ../redis beside this script
#   REDIS_RUN_DIR        default /tmp: where the rendered file (mode 0600) is written
set -eu

here=$(cd "$(dirname "$0")" && pwd)
role=${1:-${REDIS_ROLE:-}}
[ $# -eq 0 ] || shift
case "$role" in
  master) template=redis.conf ;;
  replica) template=redis-replica.conf ;;
  *) echo "redis-start: give the role, master or replica (argument or REDIS_ROLE), not '$role'" >&2; exit 2 ;;
esac
templates=${REDIS_TEMPLATE_DIR:-$here/../redis}
rendered=${REDIS_RUN_DIR:-/tmp}/redis-$role.conf
"$here/redis-render-config.sh" "$templates/$template" "$rendered"
exec redis-server "$rendered" "$@"
