#!/usr/bin/env bash
# The main job: set up, then train the three brains (tiny CPU presets unless a GPU is present),
# print the accuracy table and answer the seed's gate requests. Extra arguments go to `helix launch`.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh
exec .venv/bin/helix launch "$@"
