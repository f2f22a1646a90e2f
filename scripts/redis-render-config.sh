#!/bin/sh
# Fills a Redis configuration template (redis/redis.conf, redis/redis-replica.conf) from the
# environment, instead of the seed's `sed -i` by hand, and refuses to write a file with a
# placeholder left. Each REPLACE_WITH_<NAME> in the template takes the value of the variable
# <NAME>:
#
#   REDIS_PASSWORD       required: requirepass and masterauth
#   REDIS_MASTER_HOST    required by redis-replica.conf: the master's host name or address
#   REDIS_MASTER_PORT    default 6380
#   REDIS_PORT           default 6380: the TLS port (there is no plaintext port)
#   REDIS_BIND           default "* -::*": every IPv4 address, and IPv6 when there is one
#   REDIS_TLS_DIR        default /usr/local/etc/redis/tls: ca.crt, redis.crt, redis.key
#                        (scripts/redis-make-certs.sh makes them)
#   REDIS_DATA_DIR       default /data
#
# Usage: scripts/redis-render-config.sh TEMPLATE OUTPUT
# OUTPUT holds the password: it is written with mode 0600, atomically (a temporary file
# renamed). POSIX sh and awk only: it runs in the redis image too.
set -eu

die() {
  echo "redis-render-config: $*" >&2
  exit 2
}

[ $# -eq 2 ] || die "usage: redis-render-config.sh TEMPLATE OUTPUT"
template=$1
output=$2
[ -r "$template" ] || die "cannot read the template $template"

: "${REDIS_MASTER_PORT:=6380}"
: "${REDIS_PORT:=6380}"
: "${REDIS_BIND:=* -::*}"
: "${REDIS_TLS_DIR:=/usr/local/etc/redis/tls}"
: "${REDIS_DATA_DIR:=/data}"
export REDIS_MASTER_PORT REDIS_PORT REDIS_BIND REDIS_TLS_DIR REDIS_DATA_DIR

names=$(grep -o 'REPLACE_WITH_[A-Z0-9_]*' "$template" | sed 's/^REPLACE_WITH_//' | sort -u)
missing=""
for name in $names; do
  eval "value=\${$name:-}"
  if [ -z "$value" ]; then
    missing="$missing $name"
    continue
  fi
  # Values land in the file as they are: a quote, a backslash or a line break would change
  # what Redis reads (the password sits inside double quotes).
  case "$value" in
    *'"'* | *'\'* | *'
'*) die "$name contains a double quote, a backslash or a line break; choose a value without them (for a password: openssl rand -base64 32)" ;;
  esac
  case "$name" in
    REDIS_PASSWORD) [ ${#value} -ge 16 ] || die "REDIS_PASSWORD is shorter than 16 characters; use a long random one (openssl rand -base64 32)" ;;
    *PORT) case "$value" in *[!0-9]*) die "$name must be a port number, not '$value'" ;; esac ;;
    REDIS_MASTER_HOST) case "$value" in *[[:space:]]*) die "REDIS_MASTER_HOST must be one host name or address, not '$value'" ;; esac ;;
  esac
done
[ -z "$missing" ] || die "not set:$missing (in .env or the environment); $template needs them. docs/operations.md, \"Redis\", lists each"

directory=$(dirname "$output")
[ -d "$directory" ] || die "the directory of $output does not exist"
temporary=$(umask 077 && mktemp "$directory/.redis-conf.XXXXXX")
trap 'rm -f "$temporary"' EXIT
# Literal replacement (awk's gsub would read & and \ in the value).
awk '
  {
    line = $0
    out = ""
    while ((start = index(line, "REPLACE_WITH_")) > 0) {
      rest = substr(line, start + 13)
      match(rest, /^[A-Z0-9_]+/)
      name = substr(rest, 1, RLENGTH)
      out = out substr(line, 1, start - 1) ENVIRON[name]
      line = substr(rest, RLENGTH + 1)
    }
    print out line
  }
' "$template" >"$temporary"
if grep -n 'REPLACE_WITH_' "$temporary" >&2; then
  die "a placeholder is left in the output (above); nothing written"
fi
chmod 600 "$temporary"
mv -f "$temporary" "$output"
trap - EXIT
