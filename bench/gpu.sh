#!/usr/bin/env bash
# GPU figures in one run: training throughput of the full 256² cosmogan-dcgan (bf16, GPU-resident data), then
# scoring 6,400 vs 6,400 maps with every metric, the statistics vs the CPU, and GPU-resident batches vs the
# thesis's loader; then the 256² kappa-diffusion (preset hmc): training and DDIM sampling maps/s.
#   bash bench/gpu.sh                         measure on cuda; writes bench/gpu-train.json, bench/gpu-score.json,
#                                             bench/gpu-diffusion.json (needs pip install 'emubench[diffusion]')
#   bash bench/gpu.sh --dry-run --out-dir D   tiny CPU versions of both: checks the scripts (used by the tests)
set -euo pipefail
cd "$(dirname "$0")/.."
python bench/gpu_train.py "$@"
python bench/gpu_score.py "$@"
python bench/gpu_diffusion.py "$@"
