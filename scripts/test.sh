#!/usr/bin/env bash
# Runs the whole test suite: Swift unit/store/API/WebSocket tests (the store suite against both
# SQLite and PostgreSQL), JS unit tests, and the end-to-end tests (real server processes, real
# WebSockets, real Chromium via Playwright, two instances on one PostgreSQL).
# Installs what a fresh machine lacks first and starts a throwaway PostgreSQL for the run.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ -z "${HOURGLASS_TEST_POSTGRES_URL:-}" ]; then
  scripts/bootstrap.sh
  exec scripts/with-postgres.sh "$0" "$@"
fi

echo "== swift build"
swift build --build-tests
echo "== swift test"
swift test
echo "== node --test"
node --test Tests/js/
echo "== end-to-end (pytest)"
export HOURGLASS_BIN="$(swift build --show-bin-path)/hourglass"
.venv/bin/python -m pytest Tests/e2e -q
