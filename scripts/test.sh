#!/usr/bin/env bash
# Runs the whole test suite: Swift unit/store/API/WebSocket tests, JS unit tests, and the
# end-to-end tests (real server process, real WebSockets, real Chromium via Playwright).
# Installs what a fresh machine lacks first (scripts/bootstrap.sh).
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/bootstrap.sh

echo "== swift build"
swift build --build-tests
echo "== swift test"
swift test
echo "== node --test"
node --test Tests/js/
echo "== end-to-end (pytest)"
export HOURGLASS_BIN="$(swift build --show-bin-path)/hourglass"
export CHROMIUM_PATH="${CHROMIUM_PATH:-$(command -v chromium)}"
.venv/bin/python -m pytest Tests/e2e -q
