"""An example metric plugin: the variance, skewness and kurtosis of each map's pixels, compared with the
reference's and calibrated against the real-vs-real null by ``FeatureMetric``."""

import numpy as np

from emubench import Context, FeatureMetric, Plot, hookimpl


class PixelMoments(FeatureMetric):
    """Per-map pixel variance, skewness and excess kurtosis: mean and covariance verdicts, with curves."""

    name = "pixel-moments"
    description = "per-map pixel variance, skewness and kurtosis against the real-vs-real null (an example metric)"
    aspects = ("mean", "covariance")
    # How reports show it: the leaderboard's columns and the verdict cards' headline, and the curve plot.
    headline = ("chi2-dof", "max-abs-log-std-ratio")
    plots = (Plot("pixel moments", ("moments",), "moment order", "σ²/σ_ref², skewness, excess kurtosis"),)

    def features(self, maps, ctx: Context):
        """maps: (n, H, W) torch tensor of κ on ctx.device → (x: moment order (3,), {"moments": (n, 3)})."""
        x = maps.reshape(len(maps), -1).double().cpu().numpy()
        d = x - x.mean(1, keepdims=True)
        var = (d**2).mean(1)
        skew = (d**3).mean(1) / var**1.5
        kurt = (d**4).mean(1) / var**2 - 3
        return np.array([2.0, 3.0, 4.0]), {"moments": np.stack([var / ctx.sigma_ref**2, skew, kurt], 1)}


@hookimpl
def register_metrics(register):
    register(PixelMoments)
