#!/usr/bin/env bash
# The main job: set up, then train the three brains (tiny CPU presets unless a GPU is present),
# print the accuracy table and answer the seed's gate requests. Extra arguments go to `helix launch`;
# after Ctrl-C or a kill, `scripts/main.sh --resume` continues the latest run.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh
# `scripts/main.sh --resume` (no run named) continues the latest run under runs/
if [ "${1:-}" = "--resume" ] && { [ $# -eq 1 ] || [[ "${2:-}" == --* ]]; }; then
  shift
  set -- --resume latest "$@"
fi
exec .venv/bin/helix launch "$@"
