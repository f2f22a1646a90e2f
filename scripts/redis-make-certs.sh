#!/bin/sh
# Makes the private CA and the certificates Redis needs on both hosts (the seed assumes
# redis/tls/ exists). Redis requires a client certificate from every client by default
# (tls-auth-clients yes), the replica's link to the master included, so each host's
# certificate serves both ways (serverAuth and clientAuth).
#
# Usage: scripts/redis-make-certs.sh OUT_DIR MASTER_HOST REPLICA_HOST [DAYS]
#   OUT_DIR/ca/ca.key, ca.crt    the CA: keep ca.key off both servers (it signs new certificates)
#   OUT_DIR/HOST/ca.crt          for each host: what REDIS_TLS_DIR points at
#   OUT_DIR/HOST/redis.crt       subjectAltName: HOST, localhost, 127.0.0.1
#   OUT_DIR/HOST/redis.key
# Directories are 0700 and keys 0600. An existing file is never overwritten: run it again to
# add a missing host's certificate with the same CA. DAYS (default 825) is the hosts'
# certificates' validity; the CA's is ten years.
set -eu

die() {
  echo "redis-make-certs: $*" >&2
  exit 2
}

[ $# -ge 3 ] && [ $# -le 4 ] || die "usage: redis-make-certs.sh OUT_DIR MASTER_HOST REPLICA_HOST [DAYS]"
out=$1
days=${4:-825}
command -v openssl >/dev/null || die "openssl is not installed (apt-get install openssl)"
umask 077
mkdir -p "$out/ca"
chmod 700 "$out" "$out/ca"

if [ ! -f "$out/ca/ca.key" ]; then
  [ ! -f "$out/ca/ca.crt" ] || die "$out/ca/ca.crt exists without its key; move it away or restore ca.key"
  openssl req -x509 -new -nodes -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -sha256 -days 3650 \
    -subj "/CN=storx redis CA" -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
    -keyout "$out/ca/ca.key" -out "$out/ca/ca.crt" 2>/dev/null || die "openssl could not make the CA"
  echo "made the CA: $out/ca/ca.crt (keep $out/ca/ca.key off the servers)"
fi

for host in "$2" "$3"; do
  case "$host" in '' | */* | *[[:space:]]*) die "'$host' is not a host name or address" ;; esac
  dir="$out/$host"
  mkdir -p "$dir"
  chmod 700 "$dir"
  [ -f "$dir/ca.crt" ] || cp "$out/ca/ca.crt" "$dir/ca.crt"
  if [ -f "$dir/redis.key" ] || [ -f "$dir/redis.crt" ]; then
    echo "kept $dir/redis.crt (exists; remove redis.crt and redis.key to make a new one)"
    continue
  fi
  case "$host" in
    *[!0-9.]*) name="DNS:$host" ;;
    *) name="IP:$host" ;;
  esac
  config=$(mktemp)
  printf 'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth,clientAuth\nsubjectAltName=%s,DNS:localhost,IP:127.0.0.1\n' "$name" >"$config"
  if ! openssl req -new -nodes -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -subj "/CN=$host" \
      -keyout "$dir/redis.key" -out "$dir/redis.csr" 2>/dev/null ||
    ! openssl x509 -req -sha256 -days "$days" -in "$dir/redis.csr" -CA "$out/ca/ca.crt" -CAkey "$out/ca/ca.key" \
      -CAcreateserial -extfile "$config" -out "$dir/redis.crt" 2>/dev/null; then
    rm -f "$config" "$dir/redis.csr" "$dir/redis.key" "$dir/redis.crt"
    die "openssl could not make the certificate for $host"
  fi
  rm -f "$config" "$dir/redis.csr"
  chmod 600 "$dir/redis.key"
  chmod 644 "$dir/redis.crt" "$dir/ca.crt"
  echo "made $dir/redis.crt and redis.key for $host"
done
