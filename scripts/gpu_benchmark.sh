#!/usr/bin/env bash
# `eamp benchmark` on a GPU machine whose python3 already holds torch and PyG (a GPU
# image with PyTorch and PyG installed), from this checkout with nothing installed, for at
# most MINUTES, its run store packed into one file to bring back:
#
#   bash scripts/gpu_benchmark.sh MINUTES STORE PACK [eamp benchmark arguments]
#
# e.g. the fidelity suite's residual rows, with the data copied into .data/ (carried along;
# the committed runs of results/fidelity travel with the checkout):
#
#   bash scripts/gpu_benchmark.sh 8 results/fidelity "$OUT/fidelity.tar.gz" --suite fidelity \
#       --cases Residual --data-dir .data --workers 4
#
# Trains into the run store STORE until MINUTES run out (a run cut off is lost, the finished
# ones stay), writes STORE's tables from what it holds (`--report`) and packs STORE into PACK
# (a .tar.gz of STORE's folder). Back here, `tar xzf PACK -C <STORE's parent>` merges it into
# the local store, and the same command resumes where it stopped. Exits 124 when the time ran
# out (PACK is written all the same).
set -euo pipefail
if [ $# -lt 3 ]; then
    echo "usage: bash scripts/gpu_benchmark.sh MINUTES STORE PACK [eamp benchmark arguments]" >&2
    exit 2
fi
minutes=$1 store=$2 pack=$3
shift 3
if ! [[ $minutes =~ ^[0-9]+([.][0-9]+)?$ ]] || [[ $minutes =~ ^0+([.]0+)?$ ]]; then
    echo "MINUTES: expected a positive number of minutes, got '$minutes'" >&2
    exit 2
fi
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
python3 - <<'PY'
import torch
import torch_geometric

gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no CUDA device"
print(f"torch {torch.__version__}, PyG {torch_geometric.__version__}, {gpu}", flush=True)
PY
status=0
timeout "${minutes}m" python3 -m eamp benchmark --out "$store" "$@" || status=$?
python3 -m eamp benchmark --out "$store" "$@" --report
mkdir -p "$(dirname "$pack")"
tar czf "$pack" -C "$(dirname "$store")" "$(basename "$store")"
echo "packed $store into $pack (training exited with $status)"
exit "$status"
