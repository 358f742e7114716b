#!/usr/bin/env bash
# The two reference models trained under the same CPU budget on the same data, then scored: one cosmology
# (lognormal-lcdm-64, 10 minutes each) and across cosmologies (lognormal-cosmo-64, 15 minutes each).
# The budget is the trainers' max_minutes: wall time of the training loop, its validations included; a run stops
# at the first step past it and validates there (the steps reached are in the manifest; max_steps repeats them
# bit for bit). Both start from their smoke preset with the epochs lifted, so the budget is the only limit.
# Run it alone on the machine: any other work takes from both budgets. Needs pip install -e '.[diffusion]'.
set -euo pipefail
cd "$(dirname "$0")/.."
train() {  # model preset minutes run-folder
  [ -f "runs/$4/manifest.json" ] || emubench train "$1" --preset "$2" --epochs 1000 -c max_minutes="$3" --out "runs/$4"
}
train kappa-diffusion smoke 10 ddpm-10min
train cosmogan-dcgan smoke 10 dcgan-10min
emubench score --model runs/ddpm-10min --label kappa-diffusion:10min --out reports/budget/kappa-diffusion-10min
emubench score --model runs/dcgan-10min --label cosmogan-dcgan:10min --out reports/budget/cosmogan-dcgan-10min
train kappa-diffusion cosmo-smoke 15 ddpm-cosmo-15min
train cosmogan-dcgan cosmo-smoke 15 dcgan-cosmo-15min
emubench score --model runs/ddpm-cosmo-15min --label kappa-diffusion:cosmo-15min \
  --out reports/cosmologies/kappa-diffusion-cosmo-15min
emubench score --model runs/dcgan-cosmo-15min --label cosmogan-dcgan:cosmo-15min \
  --out reports/cosmologies/cosmogan-dcgan-cosmo-15min
