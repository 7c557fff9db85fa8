#!/usr/bin/env bash
# The GPU measurements of BENCHMARKS.md in one go: BPM scoring at SAM/score_many batch 16
# and 1 (float16, 64 pairs = 16 originals x 4 edits), then the 50-step enhancement.
# Usage: bash scripts/benchmark_gpu.sh OUT_DIR   (JSON reports and logs land in OUT_DIR)
set -euo pipefail
out=${1:?usage: bash scripts/benchmark_gpu.sh OUT_DIR}
mkdir -p "$out"
python=${PYTHON:-python}
cd "$(dirname "$0")/.."
common=(--models random --device cuda --dtype float16 --fast-sam-dtype none)
"$python" scripts/benchmark.py "${common[@]}" --pairs 64 --edits-per-original 4 \
    --batch-size 16 --sam-batch-size 4 --warmup 4 --skip-enhance \
    --json "$out/gpu_bpm_batch16.json" 2>&1 | tee "$out/gpu_bpm_batch16.log"
"$python" scripts/benchmark.py "${common[@]}" --pairs 64 --edits-per-original 4 \
    --batch-size 1 --warmup 4 --skip-enhance \
    --json "$out/gpu_bpm_batch1.json" 2>&1 | tee "$out/gpu_bpm_batch1.log"
"$python" scripts/benchmark.py "${common[@]}" --skip-bpm --resolution 512 --steps 50 \
    --json "$out/gpu_enhance.json" 2>&1 | tee "$out/gpu_enhance.log"
