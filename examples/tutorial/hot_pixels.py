"""Tutorial, step 1: a metric written from scratch on the public API (docs/tutorial.md).

The fraction of each map's pixels above 3 σ_ref (σ of the reference pixels), averaged over maps, as a ratio
generated / reference; its verdict is calibrated on the same statistic in every real-vs-real null draw."""

import numpy as np

from emubench import Context, MetricResult, calibrate, curve_records, hookimpl, row


def hot_fraction(maps, sigma: float) -> np.ndarray:
    """(n, H, W) κ maps → (n,) the fraction of each map's pixels above 3 σ."""
    return (np.asarray(maps) > 3 * sigma).mean(axis=(1, 2))


class HotPixels:
    name = "hot-pixels"
    description = "fraction of pixels above 3 σ_ref, generated / reference (the tutorial's metric)"
    aspects = ("mean",)

    def evaluate(self, generated, reference, heldout, ctx: Context) -> MetricResult:
        g, r = hot_fraction(generated, ctx.sigma_ref), hot_fraction(reference, ctx.sigma_ref)
        rows = [row("hot-fraction-ratio", np.nan, g.mean() / r.mean(), 1.0, True, "mean")]
        # The null: the same ratio for each draw of n real maps (ctx.null.index: their rows in the pool), against
        # the same reference. The pool's statistic is computed once per reference (kept in ctx.cache).
        pool = ctx.null.features(lambda maps: hot_fraction(maps, ctx.sigma_ref), ctx.cache, ("hot", ctx.sigma_ref))
        null = pool[ctx.null.index].mean(axis=1) / r.mean()  # (draws,)
        calibrate(rows, null[:, None], ctx.alpha)  # sets p_value, floor and flagged
        x = np.array([3.0])  # the threshold, in units of σ_ref
        curves = curve_records("hot-fraction", "generated", x, g[:, None])
        curves += curve_records("hot-fraction", "reference", x, r[:, None])
        return MetricResult(rows, curves)


@hookimpl
def register_metrics(register):
    register(HotPixels)
