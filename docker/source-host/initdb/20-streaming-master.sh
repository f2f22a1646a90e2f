#!/bin/sh
# Runs once, on the first start with an empty data directory (docker-entrypoint-initdb.d): makes
# this server the master of the streaming standby on the replica host (the seed's
# setup-master.sh: the replication role, the physical slot, pg_hba.conf for REPLICA_ADDRESS
# alone). Without REPLICA_ADDRESS there is no standby to serve: it says so and changes nothing;
# run scripts/setup-master.sh in the container later (docs/operations.md, "Streaming standby").
set -eu
if [ -z "${REPLICA_ADDRESS:-}" ]; then
  echo "20-streaming-master.sh: REPLICA_ADDRESS is not set: no streaming standby prepared"
  exit 0
fi
# Exit 1 (a restart needed) cannot happen here: compose.yml's command sets wal_level and the senders.
exec sh /opt/storx/scripts/setup-master.sh
