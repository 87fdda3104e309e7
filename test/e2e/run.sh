#!/usr/bin/env bash
# test/e2e/run.sh — the web client end to end, in a real browser.
#
# Builds the TypeScript client and the albums example, builds the server,
# starts a throwaway PostgreSQL (test/with-postgres.sh) and drives Debian's
# chromium with playwright-core through test/e2e/albums.mjs: SQL writes reach
# the page, page edits reach SQL, two pages converge after concurrent edits,
# and the page recovers when the server restarts; then test/e2e/auth.mjs:
# two users signed in with tokens from `ankurah token`, each seeing what the
# example's policy lets them; then test/e2e/inspect.mjs: the inspector at
# /inspect with writes from SQL and two clients, on Postgres (with a policy
# and an administrator's token) and on the embedded store. Screenshots and
# the servers' logs land in test/e2e/out/.
#
# Never downloads a browser: chromium comes from apt when missing.
# E2E_SKIP_INSTALL=1 skips `npm ci` (for quick reruns).
set -euo pipefail
cd "$(dirname "$0")/../.."

if [ ! -x /usr/bin/chromium ]; then
  echo "e2e: installing Debian's chromium package" >&2
  if [ "$(id -u)" -ne 0 ]; then
    echo "e2e: need root to apt-get install chromium" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  apt-get install -y -qq chromium >/dev/null
fi
command -v node >/dev/null || { echo "e2e: node (20.19 or later) is required" >&2; exit 1; }

mkdir -p test/e2e/out
if [ "${E2E_SKIP_INSTALL:-}" != 1 ]; then
  npm ci --no-audit --no-fund --loglevel=error
fi
npm run build --silent
go build -o test/e2e/out/ankurah ./cmd/ankurah

export ANKURAH_BIN="$PWD/test/e2e/out/ankurah"
# albums.mjs on the cluster's database (no auth), then auth.mjs on a fresh
# database of its own (a secret, the example's policy, two users), then
# inspect.mjs on a database of its own and on the embedded store (its Node
# clients need a WebSocket: Node 20 has one behind a flag); all run, and any
# failing fails the run.
ws=$(node -e 'process.stdout.write(typeof WebSocket === "undefined" ? "--experimental-websocket" : "")')
exec ./test/with-postgres.sh sh -c 'node test/e2e/albums.mjs; a=$?; node test/e2e/auth.mjs; b=$?; node '"$ws"' test/e2e/inspect.mjs postgres; c=$?; node '"$ws"' test/e2e/inspect.mjs embedded; d=$?; [ "$a" -eq 0 ] && [ "$b" -eq 0 ] && [ "$c" -eq 0 ] && [ "$d" -eq 0 ]'
