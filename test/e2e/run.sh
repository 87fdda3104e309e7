#!/usr/bin/env bash
# test/e2e/run.sh — the web client end to end, in a real browser.
#
# Builds the TypeScript client and the albums example, builds the server,
# starts a throwaway PostgreSQL (test/with-postgres.sh) and drives Debian's
# chromium with playwright-core through test/e2e/albums.mjs: SQL writes reach
# the page, page edits reach SQL, two pages converge after concurrent edits,
# and the page recovers when the server restarts. The screenshot and the
# server's log land in test/e2e/out/.
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
exec ./test/with-postgres.sh node test/e2e/albums.mjs
