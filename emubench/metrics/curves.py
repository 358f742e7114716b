"""Metrics on per-map curves: power spectrum, Minkowski functionals, peak counts (one stats call each)."""

from __future__ import annotations

import numpy as np

from .. import stats  # its modules (and torch) load on first use: listing plugins stays fast
from ..contracts import Plot
from .base import Context, FeatureMetric

# Thresholds in units of the reference maps' σ (one σ for all sets, so a wrong variance is visible).
# Lognormal κ is skewed to positive values, hence the asymmetric range.
MF_NU = np.linspace(-2.0, 4.0, 25)
PEAK_NU = np.linspace(-1.0, 5.0, 13)


class PowerSpectrumMetric(FeatureMetric):
    """Power spectrum C_ℓ: ratio of means per ℓ bin, deviation in standard errors, χ², covariance fidelity."""

    name = "power-spectrum"
    description = (
        "angular power spectrum (log ℓ bins of ≥ 16 modes up to Nyquist): amplitude, ratio, deviation, χ², "
        "correlation fidelity"
    )
    amplitude = True  # "P(ℓ) amplitude 0.97 ± 0.01": the best-fit ratio of mean spectra, a 'mean' summary
    headline = ("chi2-dof", "amplitude", "max-abs-log-std-ratio")
    plots = (Plot("power spectrum", ("C_ell",), "ℓ", "ℓ(ℓ+1)C_ℓ/2π", xscale="log", yscale="log", y="ell2", ratio=True),)

    def features(self, maps, ctx: Context):
        ell, p = stats.power_spectrum(maps, ctx.side_deg, stats.default_ell_edges(ctx.npix, ctx.side_deg))
        return ell, {"C_ell": p.cpu().numpy()}


class MinkowskiMetric(FeatureMetric):
    """Minkowski functionals V0, V1, V2 at thresholds ν·σ_ref, ν ∈ [-2, 4]."""

    name = "minkowski"
    description = "Minkowski functionals V0, V1, V2 over ν ∈ [-2, 4] σ_ref: ratio, deviation, χ², correlation fidelity"
    headline = ("V0-chi2-dof", "V1-chi2-dof", "V2-chi2-dof")
    plots = (Plot("Minkowski functionals", ("V0", "V1", "V2"), "ν = κ / σ_ref", "V0 (area) · V1 · V2 (per pixel)"),)

    def features(self, maps, ctx: Context):
        nu, v0, v1, v2 = stats.minkowski(maps, MF_NU * ctx.sigma_ref)
        return nu / ctx.sigma_ref, {"V0": v0.cpu().numpy(), "V1": v1.cpu().numpy(), "V2": v2.cpu().numpy()}


class PeaksMetric(FeatureMetric):
    """Peak counts per map at heights ν·σ_ref, ν ∈ [-1, 5]."""

    name = "peaks"
    description = "peak counts over ν ∈ [-1, 5] σ_ref: ratio, deviation, χ², correlation fidelity"
    headline = ("chi2-dof",)
    plots = (Plot("peak counts", ("peaks",), "ν = κ / σ_ref", "peaks per unit ν per map", yscale="symlog"),)

    def features(self, maps, ctx: Context):
        nu, counts = stats.peak_counts(maps, PEAK_NU * ctx.sigma_ref)
        return nu / ctx.sigma_ref, {"peaks": counts.cpu().numpy()}
