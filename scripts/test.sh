#!/usr/bin/env bash
# The test suite: set up, then run pytest on CPU (2 workers). Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh
exec .venv/bin/python -m pytest -q -n 2 --dist loadfile "$@"
