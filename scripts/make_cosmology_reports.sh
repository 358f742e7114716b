#!/usr/bin/env bash
# Regenerate reports/cosmologies/: the conditional reference DCGAN (cosmo-smoke preset, CPU) and three baselines
# scored at every cosmology of lognormal-cosmo-64 (split seed 0, sample seed 0), then the leaderboard, whose
# table across cosmologies reads these folders. Expects the run of the README's conditional example in
# runs/cosmo-smoke (it is trained here if missing).
set -euo pipefail
cd "$(dirname "$0")/.."
[ -f runs/cosmo-smoke/manifest.json ] || emubench train cosmogan-dcgan --preset cosmo-smoke --out runs/cosmo-smoke
emubench score --model runs/cosmo-smoke --out reports/cosmologies/cosmogan-dcgan-cosmo-smoke
for model in lognormal-crops nearest-cosmology sigma8-biased; do
  emubench -q score --model "$model" --dataset lognormal-cosmo-64 --out "reports/cosmologies/$model"
done
bash scripts/make_leaderboard.sh --board-only
