#!/usr/bin/env bash
# Runs every benchmark; figures go to bench/RESULTS.md by hand, with the command.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 bench/trace_bench.py "$@"
python3 bench/snapshot_bench.py "$@"
python3 bench/sandbox_bench.py
# The web benchmark needs puppeteer-core and playwright-core from the npm registry (never a
# browser download): bench/web/README.md.
if command -v npm >/dev/null; then
  (cd bench/web && PUPPETEER_SKIP_DOWNLOAD=1 PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund >/dev/null)
  python3 bench/web/web_bench.py
else
  echo "bench: npm not found: skipping bench/web" >&2
fi
