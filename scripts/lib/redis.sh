# Sourced by the scripts/redis-*.sh and check-redis-status.sh scripts: one way to call
# redis-cli with the flags the seed's commands lack. POSIX sh (they run in the redis image).
#
#   REDIS_HOST       default 127.0.0.1: this host's Redis
#   REDIS_PORT       default 6380 (TLS)
#   REDIS_TLS_DIR    default /usr/local/etc/redis/tls: ca.crt, redis.crt, redis.key
#   REDIS_PASSWORD   required; handed over in REDISCLI_AUTH, never on the command line (where
#                    `ps` shows it and redis-cli warns about -a)
#
# Redis requires a client certificate by default (tls-auth-clients yes): the seed's
# `redis-cli --tls --cacert …` without --cert/--key is refused during the TLS handshake.

: "${REDIS_HOST:=127.0.0.1}"
: "${REDIS_PORT:=6380}"
: "${REDIS_TLS_DIR:=/usr/local/etc/redis/tls}"

redis_require() {
  command -v redis-cli >/dev/null || { echo "redis-cli is not installed (Debian: apt-get install redis-tools; or run this in the redis container)" >&2; exit 2; }
  [ -n "${REDIS_PASSWORD:-}" ] || { echo "REDIS_PASSWORD is not set (the one in .env)" >&2; exit 2; }
  for file in ca.crt redis.crt redis.key; do
    [ -r "$REDIS_TLS_DIR/$file" ] || { echo "cannot read $REDIS_TLS_DIR/$file: set REDIS_TLS_DIR to the directory scripts/redis-make-certs.sh made for this host" >&2; exit 2; }
  done
}

# redis_at HOST PORT COMMAND...: one command to a given server, raw output, CRs removed.
redis_at() {
  host=$1 port=$2
  shift 2
  REDISCLI_AUTH=$REDIS_PASSWORD redis-cli --no-auth-warning --tls --cacert "$REDIS_TLS_DIR/ca.crt" \
    --cert "$REDIS_TLS_DIR/redis.crt" --key "$REDIS_TLS_DIR/redis.key" -h "$host" -p "$port" "$@" | tr -d '\r'
}

# redis_local COMMAND...: one command to this host's Redis.
redis_local() {
  redis_at "$REDIS_HOST" "$REDIS_PORT" "$@"
}

# info_field INFO_TEXT NAME: one field of INFO's "name:value" lines (empty when absent).
info_field() {
  printf '%s\n' "$1" | awk -F: -v name="$2" '$1 == name { sub(/^[^:]*:/, ""); print; exit }'
}
