#!/usr/bin/env bash
# The main job: reproduces the paper (quick mode) into out/reproduce, setting up .venv on
# first use. Extra arguments go to `eamp reproduce` (e.g. drop --quick by passing --full).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$ROOT/scripts/setup.sh"
# Datasets: $EAMP_DATA_DIR if set; else a writable copy of ../shared/data when it exists
# (PyG writes processed/ next to raw/); else PyG downloads into the user cache.
if [ -z "${EAMP_DATA_DIR:-}" ] && [ -d "$ROOT/../shared/data" ]; then
    export EAMP_DATA_DIR="$ROOT/.data"
    mkdir -p "$EAMP_DATA_DIR"
    cp -rn "$ROOT/../shared/data/." "$EAMP_DATA_DIR/" 2>/dev/null || true
    chmod -R u+w "$EAMP_DATA_DIR"
fi
ARGS=(--quick)
if [ "${1:-}" = "--full" ]; then ARGS=(); shift; fi
exec eamp reproduce --out "$ROOT/out/reproduce" "${ARGS[@]}" "$@"
