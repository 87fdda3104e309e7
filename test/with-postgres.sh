#!/usr/bin/env bash
# with-postgres.sh CMD [ARGS…]
#
# Runs CMD with TEST_DATABASE_URL pointing at a throwaway PostgreSQL cluster
# (wal_level=logical) and removes the cluster afterwards, also when CMD fails.
# When TEST_DATABASE_URL is already set, CMD runs against that server instead.
#
# The cluster is initdb'd into a temporary directory and run as the `postgres`
# OS user (the server refuses to run as root), on a free loopback port. When
# the server binaries are missing they are installed from Debian's
# `postgresql` package.
set -euo pipefail

if [ -n "${TEST_DATABASE_URL:-}" ]; then
  exec "$@"
fi

find_bindir() {
  for d in /usr/lib/postgresql/*/bin; do
    if [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ] && [ -x "$d/postgres" ]; then
      echo "$d"
    fi
  done | sort -V | tail -n 1
}

BINDIR=$(find_bindir || true)
if [ -z "$BINDIR" ]; then
  echo "with-postgres: PostgreSQL server binaries missing; installing Debian's postgresql package" >&2
  if [ "$(id -u)" -ne 0 ]; then
    echo "with-postgres: need root to apt-get install postgresql (or set TEST_DATABASE_URL)" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  apt-get install -y -qq postgresql >/dev/null
  BINDIR=$(find_bindir)
  # The package starts a cluster of its own; we do not need it.
  service postgresql stop >/dev/null 2>&1 || true
fi

# Run the server as `postgres` when we are root (it refuses root); as
# ourselves otherwise.
RUNAS=()
if [ "$(id -u)" -eq 0 ]; then
  id postgres >/dev/null 2>&1 || useradd --system --home-dir /var/lib/postgresql --shell /bin/bash postgres
  RUNAS=(runuser -u postgres --)
fi

echo "with-postgres: starting a throwaway PostgreSQL cluster (initdb, then the server)…" >&2
TMP=$(mktemp -d /tmp/ankpg.XXXXXX)
chmod 755 "$TMP"
DATA="$TMP/data"
SOCK="$TMP/s"
mkdir -p "$SOCK"
[ ${#RUNAS[@]} -gt 0 ] && chown -R postgres:postgres "$TMP"

# A free port: nothing answers on it.
for _ in $(seq 1 50); do
  PORT=$((20000 + RANDOM % 30000))
  (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null || break
done

cleanup() {
  echo "with-postgres: stopping and removing the cluster" >&2
  "${RUNAS[@]}" "$BINDIR/pg_ctl" -D "$DATA" -m immediate stop >/dev/null 2>&1 || true
  rm -rf "$TMP"
}
trap cleanup EXIT INT TERM

"${RUNAS[@]}" "$BINDIR/initdb" -D "$DATA" -U postgres -A trust --no-sync -E UTF8 --locale=C.UTF-8 >"$TMP/initdb.log" 2>&1 || {
  cat "$TMP/initdb.log" >&2; exit 1; }
# Tests need no durability; PG_DURABLE=1 keeps PostgreSQL's defaults (fsync,
# full-page writes), for benchmarks of what an app's database does.
NODURABILITY="-c fsync=off -c full_page_writes=off"
[ "${PG_DURABLE:-}" = 1 ] && NODURABILITY=""
"${RUNAS[@]}" "$BINDIR/pg_ctl" -D "$DATA" -l "$TMP/server.log" -w -t 60 -o "-p $PORT -k $SOCK \
  -c listen_addresses=127.0.0.1 -c wal_level=logical -c max_replication_slots=64 \
  -c max_wal_senders=64 -c max_connections=400 $NODURABILITY \
  -c shared_buffers=256MB -c max_locks_per_transaction=256" start >/dev/null || {
  cat "$TMP/server.log" >&2; exit 1; }

export TEST_DATABASE_URL="postgres://postgres@127.0.0.1:$PORT/postgres?sslmode=disable"
echo "with-postgres: throwaway PostgreSQL $("$BINDIR/postgres" --version | awk '{print $3}') on 127.0.0.1:$PORT; running: $*" >&2
set +e
"$@"
status=$?
set -e
exit $status
