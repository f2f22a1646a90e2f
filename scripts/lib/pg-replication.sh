# Shared by the PostgreSQL replication scripts (setup-master.sh, init-replica.sh,
# check-replication-status.sh, pg-promote.sh). POSIX sh; needs psql (and pg_basebackup for
# init-replica.sh): present on a Debian host with postgresql-client and in the official image.
#
# The seed's environment: POSTGRES_USER, POSTGRES_PASSWORD, POSTGRES_DB, POSTGRES_REPLICATOR_USER,
# POSTGRES_REPLICATOR_PASSWORD, POSTGRES_MASTER_HOST, POSTGRES_MASTER_PORT. The local server is
# reached through libpq's own PGHOST / PGPORT (default: the local socket, 5432).
: "${POSTGRES_USER:=postgres}"
: "${POSTGRES_DB:=$POSTGRES_USER}"
: "${POSTGRES_REPLICATOR_USER:=replicator}"
: "${POSTGRES_REPLICA_SLOT:=replica1_slot}"

die() { # MESSAGE (what is wrong, then what to do)
  echo "error: $*" >&2
  exit 2
}

need() { # COMMAND HINT
  command -v "$1" >/dev/null 2>&1 || die "$1 not found: $2"
}

# Values that go into SQL, a replication command or a configuration file are checked, never
# quoted into place: a typo must stop the script, not reach pg_hba.conf or postgresql.auto.conf.
need_number() { # NAME VALUE
  case "$2" in '' | *[!0-9]*) die "$1=$2 is not a whole number" ;; esac
}
need_name() { # NAME VALUE (a role or slot name: lower case letters, digits, _; at most 63)
  printf '%s' "$2" | grep -Eq '^[a-z_][a-z0-9_]{0,62}$' || die "$1=$2 is not a plain name (lower case letters, digits and _, at most 63): choose one"
}

# psql on the local server as POSTGRES_USER (password from POSTGRES_PASSWORD when set).
local_psql() {
  PGPASSWORD=${POSTGRES_PASSWORD:-${PGPASSWORD:-}} psql -X -q -v ON_ERROR_STOP=1 -U "$POSTGRES_USER" -d "$POSTGRES_DB" "$@"
}

# One value from the local server.
local_value() { # SQL
  local_psql -At -c "$1"
}

# A SQL string literal ('it''s').
sql_literal() {
  printf "'%s'" "$(printf '%s' "$1" | sed "s/'/''/g")"
}

# A SQL identifier ("Name").
sql_ident() {
  printf '"%s"' "$(printf '%s' "$1" | sed 's/"/""/g')"
}
