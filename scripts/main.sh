#!/usr/bin/env bash
# The main job: reproduces the paper (quick mode) into out/reproduce, setting up .venv on
# first use. Extra arguments go to `eamp reproduce` (e.g. drop --quick by passing --full).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$ROOT/scripts/setup.sh"
# Datasets: $EAMP_DATA_DIR if set; else ../shared/data in place when it exists (read-only:
# eamp reads its raw files and keeps the processed ones in the user cache); else PyG
# downloads into the user cache.
if [ -z "${EAMP_DATA_DIR:-}" ] && [ -d "$ROOT/../shared/data" ]; then
    export EAMP_DATA_DIR="$ROOT/../shared/data"
fi
ARGS=(--quick)
if [ "${1:-}" = "--full" ]; then ARGS=(); shift; fi
exec eamp reproduce --out "$ROOT/out/reproduce" "${ARGS[@]}" "$@"
