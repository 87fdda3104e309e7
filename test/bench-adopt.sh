#!/usr/bin/env bash
# bench-adopt.sh — the cost of adoption (docs/benchmarks.md, "Adopted tables").
#
# 1. Trigger overhead: an app's ordinary write load (pgbench, CLIENTS
#    connections, a mix of 60% UPDATE, 20% INSERT, 20% DELETE by primary key)
#    on a table with several indexes, against two identical tables in the
#    same database: one as the app has it, one adopted by Ankurah (triggers
#    recording every write as an event, REPLICA IDENTITY FULL, a side table).
#    The two run alternately, ROUNDS times each, for SECONDS seconds; the
#    ratio adopted/plain is computed per round, and the median printed.
# 2. Backfill: `ankurah adopt` on a table of ROWS rows (1,000,000 by
#    default), timed: rows per second.
#
# Needs the PostgreSQL server binaries (pgbench) and bin/ankurah (make build);
# runs on the throwaway cluster of test/with-postgres.sh, or on
# TEST_DATABASE_URL. Prints the load average before and after.
set -euo pipefail
cd "$(dirname "$0")/.."
CLIENTS=${CLIENTS:-4}
SECONDS_PER_RUN=${SECONDS_PER_RUN:-15}
ROUNDS=${ROUNDS:-3}
ROWS=${ROWS:-1000000}
SIZE=${SIZE:-100000}

if [ -z "${TEST_DATABASE_URL:-}" ]; then
  # Twice: on a cluster with PostgreSQL's default durability (fsync, full
  # page writes: what an app's database runs with), then with fsync off
  # (the CPU-bound worst case, where commits cost nothing). The backfill
  # runs in the first.
  echo "=== PostgreSQL defaults (fsync on, synchronous_commit on)"
  PG_DURABLE=1 BACKFILL=${BACKFILL:-1} ./test/with-postgres.sh "$0" "$@"
  echo "=== fsync off (commits cost nothing: the triggers' share is largest)"
  BACKFILL=0 ./test/with-postgres.sh "$0" "$@"
  exit
fi
PGBENCH=$(ls /usr/lib/postgresql/*/bin/pgbench 2>/dev/null | sort -V | tail -n 1)
[ -x "$PGBENCH" ] || { echo "bench-adopt: pgbench not found (install Debian's postgresql package)" >&2; exit 1; }
[ -x bin/ankurah ] || { echo "bench-adopt: bin/ankurah missing (make build)" >&2; exit 1; }

DB="bench_adopt_$$"
ADMIN="$TEST_DATABASE_URL"
URL=$(python3 -c 'import sys,urllib.parse as u; p=u.urlsplit(sys.argv[1]); print(u.urlunsplit(p._replace(path="/"+sys.argv[2])))' "$ADMIN" "$DB")
psql -qX "$ADMIN" -c "create database $DB" >/dev/null
cleanup() { psql -qX "$ADMIN" -c "drop database if exists $DB with (force)" >/dev/null 2>&1 || true; rm -f "$SCRIPT"; }
SCRIPT=$(mktemp /tmp/bench-adopt.XXXXXX.sql)
trap cleanup EXIT

echo "== load average before: $(cut -d' ' -f1-3 /proc/loadavg); $(nproc) cores"
bin/ankurah migrate --database-url "$URL" >/dev/null
for t in items_plain items_adopted; do
  psql -qX "$URL" <<SQL
create table $t (
  id bigserial primary key,
  sku text not null unique,
  category int not null,
  price numeric(10,2) not null,
  qty int not null default 0,
  note text,
  updated_at timestamptz not null default now()
);
create index on $t (category);
create index on $t (category, price);
create index on $t (updated_at);
insert into $t (sku, category, price, qty, note)
  select 'sku-' || g, g % 100, (g % 1000) / 10.0, g % 50, 'item ' || g from generate_series(1, $SIZE) g;
analyze $t;
SQL
done
bin/ankurah adopt --database-url "$URL" items_adopted >/dev/null 2>&1
echo "== $SIZE rows in each table, 4 indexes each; items_adopted adopted"

cat > "$SCRIPT" <<'SQL'
\set op random(1, 10)
\set id random(1, 1000000000)
\if :op <= 6
update :t set qty = qty + 1, price = price + 0.01, updated_at = now()
  where id = (select id from :t where id >= :id % (select max(id) from :t) order by id limit 1);
\elif :op <= 8
insert into :t (sku, category, price, qty, note) values ('new-' || md5(random()::text), :id % 100, 9.99, 1, 'new');
\else
delete from :t where id = (select id from :t where id >= :id % (select max(id) from :t) order by id limit 1);
\endif
SQL

tps() {
  "$PGBENCH" -n -c "$CLIENTS" -j "$CLIENTS" -T "$SECONDS_PER_RUN" -f "$SCRIPT" -D t="$1" "$URL" 2>/dev/null |
    awk '/^tps = / { print $3 }'
}
ratios=()
for r in $(seq 1 "$ROUNDS"); do
  plain=$(tps items_plain)
  adopted=$(tps items_adopted)
  ratio=$(awk -v a="$adopted" -v p="$plain" 'BEGIN { printf "%.2f", a / p }')
  ratios+=("$ratio")
  echo "round $r: plain $plain tps, adopted $adopted tps, ratio $ratio"
done
median=$(printf '%s\n' "${ratios[@]}" | sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }')
echo "== trigger overhead: adopted/plain tps, median of $ROUNDS rounds ($CLIENTS clients, ${SECONDS_PER_RUN}s each): $median"
events=$(psql -qXAt "$URL" -c "select count(*) from ankurah.events where collection = 'items_adopted'")
echo "== events recorded for items_adopted: $events"
echo "== load average after the write load: $(cut -d' ' -f1-3 /proc/loadavg)"

if [ "${BACKFILL:-1}" = 0 ]; then
  exit 0
fi
psql -qX "$URL" <<SQL
create table big (id bigserial primary key, name text not null, category int not null, price numeric(10,2), at timestamptz not null default now());
insert into big (name, category, price) select 'name ' || g, g % 100, (g % 1000) / 10.0 from generate_series(1, $ROWS) g;
analyze big;
SQL
start=$(date +%s.%N)
bin/ankurah adopt --database-url "$URL" --batch "${BATCH:-1000}" big
end=$(date +%s.%N)
awk -v n="$ROWS" -v s="$start" -v e="$end" 'BEGIN { printf "== backfill: %d rows in %.1f s: %.0f rows/s\n", n, e - s, n / (e - s) }'
echo "== load average after the backfill: $(cut -d' ' -f1-3 /proc/loadavg)"
