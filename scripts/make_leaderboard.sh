#!/usr/bin/env bash
# Regenerate reports/leaderboard/ (and the screenshots in reports/screenshots/): the reference DCGAN and the reference
# diffusion model (smoke presets, CPU), the baselines and the real-vs-real floor, all on the default 64² dataset
# (lognormal-lcdm-64, split seed 0, sample seed 0).
# Expects the smoke runs of the README in runs/smoke and runs/ddpm (trained here if missing; the diffusion model
# needs pip install -e '.[diffusion]') and the equal-budget reports of scripts/make_budget_reports.sh. The leaderboard
# also has a table across cosmologies, read from reports/cosmologies/ (scripts/make_cosmology_reports.sh).
# --board-only: rebuild the leaderboard and screenshots from the score folders as they are.
set -euo pipefail
cd "$(dirname "$0")/.."
board_only=false
[ "${1:-}" = --board-only ] && board_only=true
if ! $board_only; then
[ -f runs/smoke/manifest.json ] || emubench train cosmogan-dcgan --preset smoke --out runs/smoke
emubench score --model runs/smoke --out reports/smoke  # always: a report of older code must not survive
[ -f runs/ddpm/manifest.json ] || emubench train kappa-diffusion --preset smoke --out runs/ddpm
emubench score --model runs/ddpm --out reports/ddpm
for model in grf lognormal lognormal-crops memoriser memoriser-d4 memoriser-shifted collapsed; do
  emubench -q score --model "$model" --dataset lognormal-lcdm-64 --out "reports/$model"
done
# The floor itself: real held-out maps scored as if an emulator had made them.
tmp=$(mktemp -d)
emubench data export lognormal-lcdm-64 --split test --out "$tmp/test.npy"
emubench -q score --maps "$tmp/test.npy" --dataset lognormal-lcdm-64 --label real-test-split --out reports/real-test-split
rm -r "$tmp"
fi
emubench report reports/smoke reports/ddpm reports/budget/cosmogan-dcgan-10min reports/budget/kappa-diffusion-10min \
  reports/grf reports/lognormal reports/lognormal-crops reports/memoriser reports/memoriser-d4 \
  reports/memoriser-shifted reports/collapsed \
  reports/real-test-split reports/cosmologies/cosmogan-dcgan-cosmo-smoke reports/cosmologies/kappa-diffusion-cosmo-smoke \
  reports/cosmologies/cosmogan-dcgan-cosmo-15min reports/cosmologies/kappa-diffusion-cosmo-15min \
  reports/cosmologies/lognormal-crops \
  reports/cosmologies/nearest-cosmology reports/cosmologies/sigma8-biased --out reports/leaderboard
# What a reader sees: both pages in headless Chromium at 1,400 px (Debian: apt-get install chromium).
mkdir -p reports/screenshots
for page in smoke/report.html leaderboard/leaderboard.html; do
  chromium --headless --no-sandbox --disable-gpu --hide-scrollbars --window-size=1400,2600 \
    --screenshot="reports/screenshots/$(basename "$page" .html).png" "file://$PWD/reports/$page" 2>/dev/null
done
# The first screen of a report across cosmologies: the size of sigma8-biased's bias, in numbers and colour.
chromium --headless --no-sandbox --disable-gpu --hide-scrollbars --window-size=1400,900 \
  --screenshot=reports/screenshots/sigma8-biased.png "file://$PWD/reports/cosmologies/sigma8-biased/report.html" 2>/dev/null
