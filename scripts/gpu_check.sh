#!/usr/bin/env bash
# The GPU check: on a machine with a CUDA GPU, set up like scripts/main.sh, then train-throughput
# (MFU) of both full presets beside the earlier system's loop, the main job with the full presets
# on a GPU time budget, helix ask on the GPU; one JSON of every figure (gpu_check/gpu_check.json)
# and a table with a verdict against issue 17's targets. Stops by its own deadline (9 minutes).
# Extra arguments go to benchmarks/gpu_check.py (--deadline-s, --train-budget-s, --out, --device cpu).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh
exec .venv/bin/python benchmarks/gpu_check.py "$@"
