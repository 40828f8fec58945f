#!/usr/bin/env bash
# Runs the whole test suite (and ruff), setting up .venv on first use.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$ROOT/scripts/setup.sh"
cd "$ROOT"
ruff check eamp tests benchmarks examples
python -m pytest "$@"
