#!/usr/bin/env bash
# Set up the environment, make sure a browser is there for the browser tests, and run pytest.
#   scripts/test.sh [PYTEST ARGS...]      e.g. scripts/test.sh -m 'not slow' -x
# Exits with pytest's exit code.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

"$ROOT/scripts/setup.sh"

# Debian's Chromium, driven by Playwright through executable_path=/usr/bin/chromium (Playwright's
# own browser download does not work offline).
if [[ ! -x /usr/bin/chromium ]]; then
    if [[ "$(id -u)" == "0" ]] && command -v apt-get >/dev/null 2>&1; then
        echo "[test] installing Debian's chromium for the browser tests"
        export DEBIAN_FRONTEND=noninteractive
        if ! { apt-get update -qq && apt-get install -y -qq --no-install-recommends chromium fonts-liberation >/dev/null; }; then
            echo "[test] WARNING: could not install chromium; the browser tests will be skipped" >&2
        fi
    else
        echo "[test] /usr/bin/chromium is missing and we are not root: the browser tests will be skipped" >&2
        echo "[test] (install it with: sudo apt-get install chromium)" >&2
    fi
fi

exec "$ROOT/.venv/bin/python" -m pytest "$@"
