"""Two-sample Kolmogorov–Smirnov distance on pixel values (not on histograms), as in the thesis and CosmoGAN."""

from __future__ import annotations

import numpy as np

from .. import stats
from ..contracts import MetricResult, Plot
from .base import Context, FeatureMetric, curve_records, row

PDF_NU = np.linspace(-3.0, 8.0, 45)


GRID = 1024  # reference pixel quantiles at which the calibrated KS distance is evaluated


class PixelKS(FeatureMetric):
    """Two-sample KS distance between pixel distributions, calibrated against the real-vs-real null.

    The statistic is D on a grid: max over ``GRID`` quantiles of the reference pixels of
    |F_generated − F_reference|, from per-map pixel CDFs (so null draws only re-select maps). It is at most the
    exact D over all pixels (the one scipy's ``ks_2samp`` and the thesis report) and within one grid cell,
    ~1/GRID in probability, of it; the exact D would need a sort of every pixel per score. No KS p-value is
    published: the textbook one assumes independent pixels, and neighbouring κ pixels are strongly correlated
    (real vs real gets p ~ 1e-11); the null's p-value is the honest one.
    """

    name = "pixel-ks"
    description = "two-sample KS distance on pixel values (1,024 reference quantiles) against the real-vs-real null"
    aspects = ("distribution",)
    headline = ("D",)
    plots = (Plot("pixel pdf", ("pdf",), "ν = κ / σ_ref", "pixel pdf", yscale="log"),)
    explain = {
        "distribution": "A flag means the one-point distribution of κ differs from the real one by more than two "
        "real sets differ: the largest gap between the pixel CDFs (D) is beyond its real-vs-real floor."
    }
    plot_features = False  # the report plots the pixel pdf instead of 1,024 CDF points
    range_check = False  # the CDF grid sits at reference quantiles: D already sees values outside the range

    def features(self, maps, ctx: Context):
        return self._grid, {"cdf": stats.pixel_cdf(maps, stats.to_tensor(self._grid).to(maps.device)).cpu().numpy()}

    def compare(self, fg, fr, x, ctx):
        return [
            row("D", np.nan, float(np.max(np.abs(fg["cdf"].mean(0) - fr["cdf"].mean(0)))), 0.0, True, "distribution")
        ]

    def null_draw_summaries(self, pool, r, null):
        """D of every null draw: set CDFs are means of per-map CDFs, so one matrix product per chunk of draws."""
        x = np.asarray(pool, dtype=np.float32)  # CDFs in [0, 1]: float32 sums are ample
        ref = r.mean(0)
        out = [np.max(np.abs(sel @ x / null.n - ref), axis=1) for sel in null.selections()]
        return {"D": np.concatenate(out)}

    def evaluate(self, generated, reference, heldout, ctx: Context) -> MetricResult:
        g = np.asarray(generated, dtype=np.float32)
        r = np.asarray(reference, dtype=np.float32)
        h = np.asarray(heldout, dtype=np.float32)
        self._grid = np.quantile(r.reshape(-1)[:: max(1, r.size // 4_000_000)], (np.arange(GRID) + 0.5) / GRID)
        result = super().evaluate(g, r, h, ctx)
        for label, maps in (("generated", g), ("reference", r), ("heldout", h)):
            nu, dens = stats.pdf(stats.to_tensor(maps).to(ctx.device), PDF_NU * ctx.sigma_ref)
            result.curves += curve_records("pdf", label, nu / ctx.sigma_ref, dens.cpu().numpy())
        return result
