#!/usr/bin/env bash
# Training throughput of the full 256² cosmogan-dcgan (bf16, GPU-resident data) on a CUDA GPU.
#   bash bench/gpu.sh              measure on cuda; writes bench/gpu-result.json
#   bash bench/gpu.sh --dry-run    a few CPU steps of a tiny model: checks that the script works (used by the tests)
set -euo pipefail
cd "$(dirname "$0")/.."
python bench/gpu_train.py "$@"
