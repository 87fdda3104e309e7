#!/usr/bin/env bash
# bench-commit.sh [RUNS]
#
# API commits vs raw single-row INSERTs (BenchmarkCommitVsInsert), run RUNS
# times (default 5). Each run measures the API and the raw inserts back to
# back on the same throwaway cluster, so both see the same machine load; the
# ratio is computed per run, then the median is printed.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${1:-5}
out=$(mktemp)
trap 'rm -f "$out"' EXIT
./test/with-postgres.sh bash -c "for i in \$(seq 1 $RUNS); do go test -run '^\$' -bench CommitVsInsert -benchtime 2s -count 1 ./storage/postgres/ | grep '^Benchmark'; done" | tee "$out"
awk '
  { split($1, p, "/"); kind = p[2]; w = p[3]; sub(/-[0-9]+$/, "", w)
    for (i = 1; i <= NF; i++) if ($(i+1) == "commits/s") v = $i
    if (kind == "api") api[w] = v; else { n[w]++; r[w, n[w]] = api[w] / v; a[w, n[w]] = api[w]; b[w, n[w]] = v } }
  END {
    for (w in n) {
      m = n[w]
      for (i = 1; i <= m; i++) for (j = i + 1; j <= m; j++) if (r[w, j] < r[w, i]) { t = r[w, i]; r[w, i] = r[w, j]; r[w, j] = t }
      printf "%s: ratio api/raw per run:", w; for (i = 1; i <= m; i++) printf " %.2f", r[w, i]; printf "  median %.2f\n", r[w, int((m + 1) / 2)]
    }
  }' "$out"
