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
        return np.array([2.0, 3.0, 4.0]), {"moments": moments(maps.double().cpu().numpy(), ctx.sigma_ref)}


def moments(maps: np.ndarray, sigma: float) -> np.ndarray:
    """(n, H, W) κ → (n, 3): each map's pixel variance in units of σ², skewness and excess kurtosis."""
    x = maps.reshape(len(maps), -1)
    d = x - x.mean(1, keepdims=True)
    var = (d**2).mean(1)
    return np.stack([var / sigma**2, (d**3).mean(1) / var**1.5, (d**4).mean(1) / var**2 - 3], 1)


@hookimpl
def register_metrics(register):
    register(PixelMoments)


@hookimpl
def register_commands(cli):
    """A command of the plugin's own: ``emubench pixel-moments --dataset NAME -n N``."""
    import click

    from emubench import open_dataset

    @cli.command("pixel-moments")
    @click.option("--dataset", default="lognormal-lcdm-64", show_default=True, help="Registered dataset name.")
    @click.option("-n", type=int, default=4, show_default=True, help="How many maps.")
    def pixel_moments(dataset, n):
        """Print the pixel variance (in units of the maps' σ²), skewness and excess kurtosis of the first N maps."""
        maps = open_dataset(dataset).head(n).astype(np.float64)
        click.echo("map  variance/σ²  skewness  kurtosis")
        for i, (v, s, k) in enumerate(moments(maps, float(maps.std()))):
            click.echo(f"{i:>3}  {v:11.3f}  {s:8.3f}  {k:8.3f}")
