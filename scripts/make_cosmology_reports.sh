#!/usr/bin/env bash
# Regenerate reports/cosmologies/: the conditional reference DCGAN and diffusion model (cosmo-smoke presets, CPU)
# and three baselines scored at every cosmology of lognormal-cosmo-64 (split seed 0, sample seed 0), then the
# leaderboard, whose table across cosmologies reads these folders. Expects the runs in runs/cosmo-smoke and
# runs/ddpm-cosmo (trained here if missing; the diffusion model needs pip install -e '.[diffusion]').
set -euo pipefail
cd "$(dirname "$0")/.."
[ -f runs/cosmo-smoke/manifest.json ] || emubench train cosmogan-dcgan --preset cosmo-smoke --out runs/cosmo-smoke
emubench score --model runs/cosmo-smoke --out reports/cosmologies/cosmogan-dcgan-cosmo-smoke
[ -f runs/ddpm-cosmo/manifest.json ] || emubench train kappa-diffusion --preset cosmo-smoke --out runs/ddpm-cosmo
emubench score --model runs/ddpm-cosmo --out reports/cosmologies/kappa-diffusion-cosmo-smoke
for model in lognormal-crops nearest-cosmology sigma8-biased; do
  emubench -q score --model "$model" --dataset lognormal-cosmo-64 --out "reports/cosmologies/$model"
done
bash scripts/make_leaderboard.sh --board-only
