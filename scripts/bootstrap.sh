#!/usr/bin/env bash
# Installs what the test suite needs on a fresh Debian machine, and nothing twice:
# Debian's chromium (driven by Playwright) and a Python venv in .venv with the test tools.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
command -v chromium >/dev/null 2>&1 || need_apt+=(chromium)
command -v node >/dev/null 2>&1 || need_apt+=(nodejs)
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need_apt+=(postgresql)
command -v psql >/dev/null 2>&1 || need_apt+=(postgresql-client)
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "bootstrap: installing ${need_apt[*]} with apt-get"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

if [ ! -x .venv/bin/python ]; then
  echo "bootstrap: creating .venv"
  python3 -m venv .venv 2>/dev/null || {
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null
    python3 -m venv .venv
  }
fi
if ! .venv/bin/python -c "import playwright, pytest, websockets, openapi_spec_validator, aiosmtpd" 2>/dev/null; then
  echo "bootstrap: installing Python test tools"
  .venv/bin/pip install -q --disable-pip-version-check -r Tests/e2e/requirements.txt
fi
