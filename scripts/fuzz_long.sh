#!/usr/bin/env bash
# The long fuzz run: every property-based test (marked `fuzz`) with 10,000 cases each.
# Usage: bash scripts/fuzz_long.sh [extra pytest arguments]
set -euo pipefail
cd "$(dirname "$0")/.."
HYPOTHESIS_PROFILE=long exec "${VENV:-.venv}/bin/python" -m pytest test -m fuzz -p no:cacheprovider "$@"
