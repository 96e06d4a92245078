#!/usr/bin/env bash
# Runs every benchmark; figures go to bench/RESULTS.md by hand, with the command.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 bench/trace_bench.py "$@"
python3 bench/snapshot_bench.py "$@"
python3 bench/sandbox_bench.py
