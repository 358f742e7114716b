"""The covariance *between* statistics: do a map's power spectrum, Minkowski functionals, peaks and starlet ℓ1-norm
vary together across maps as they do in real maps?

Every other covariance verdict looks inside one statistic (C_ℓ bin against C_ℓ bin). An emulator can get each
statistic's mean and scatter right and still get wrong how they move together, which is what an analysis that
combines them (HOWLS-style data vectors of C_ℓ, peaks, MFs and ℓ1) relies on: flows on κ maps get the means and
variances to ~1% and off-diagonal covariances wrong by up to 25% (Armijo, Thiele & Liu 2026).

How: each block (C_ℓ; V0; peak counts; starlet ℓ1 at every scale) is reduced to its leading ``COMPONENTS``
principal components, fitted on the reference (features standardised by the reference's mean and spread per
bin). The verdict compares, for every pair of blocks, the correlations between the two blocks' components in the
generated set with those in the reference: RMS over the pair's entries of R_gen − R_ref. The within-block
correlations are left to each statistic's own covariance verdict. Calibrated like every verdict on the
real-vs-real null (max-T over the pairs). The per-map features are the component metrics' own, computed once
per score (``FeatureMetric.set_features``) and once per reference for the null's pool.
"""

from __future__ import annotations

from itertools import combinations

import numpy as np

from .base import Context, FeatureMetric, moments, row, subset_moments
from .curves import MinkowskiMetric, PeaksMetric, PowerSpectrumMetric, StarletMetric

COMPONENTS = 4  # principal components kept per block: the modes that carry most of each statistic's scatter
# (label, metric, the start of the metric's feature keys that make up the block: ℓ1 at every starlet scale)
BLOCKS = (
    ("C_ell", PowerSpectrumMetric, "C_ell"),
    ("V0", MinkowskiMetric, "V0"),
    ("peaks", PeaksMetric, "peaks"),
    ("l1", StarletMetric, "l1-"),
)


def _block(features: dict[str, np.ndarray], start: str) -> np.ndarray:
    """(n, B) a block's per-map features: the metric's keys that begin with ``start``, side by side."""
    return np.concatenate([np.asarray(v, np.float64) for k, v in features.items() if k.startswith(start)], axis=1)


def cross_correlation_rms(cov: np.ndarray, cov_ref: np.ndarray, sizes: list[int]) -> dict[str, np.ndarray]:
    """RMS difference of the correlations between every pair of blocks.

    cov: (D, B, B) covariances of D sets; cov_ref: (B, B) the reference's; sizes: the blocks' lengths along B, in
    order (labels come from ``BLOCKS``). Returns {"<a>x<b>-corr-rms-diff": (D,)} for each pair a < b."""

    def corr(c):
        s = np.sqrt(np.clip(np.diagonal(c, axis1=-2, axis2=-1), 1e-300, None))
        return np.clip(c / (s[..., :, None] * s[..., None, :]), -1.0, 1.0)

    ca, cr = corr(np.asarray(cov, np.float64)), corr(np.asarray(cov_ref, np.float64))
    edges = np.concatenate([[0], np.cumsum(sizes)])
    labels = [b[0] for b in BLOCKS][: len(sizes)]
    out = {}
    for a, b in combinations(range(len(sizes)), 2):
        sa, sb = slice(edges[a], edges[a + 1]), slice(edges[b], edges[b + 1])
        diff = ca[:, sa, sb] - cr[sa, sb]
        out[f"{labels[a]}x{labels[b]}-corr-rms-diff"] = np.sqrt(np.mean(diff**2, axis=(1, 2)))
    return out


class JointMetric(FeatureMetric):
    """Cross-statistic correlation fidelity: the correlations between the leading principal components of C_ℓ, V0,
    peak counts and starlet ℓ1, generated against real."""

    name = "joint"
    description = (
        "correlations between statistics (C_ℓ, V0, peaks, starlet ℓ1; 4 principal components each) across maps: "
        "RMS difference per pair of statistics"
    )
    aspects = ("cross-covariance",)
    plot_features = False  # components are no curve to draw
    range_check = False
    headline = ("C_ellxpeaks-corr-rms-diff", "C_ellxV0-corr-rms-diff", "peaksxl1-corr-rms-diff")
    explain = {
        "cross-covariance": "A flag means the statistics do not vary together from map to map as they do in real "
        "maps (e.g. maps with more small-scale power lack the extra peaks that come with it), even when each "
        "statistic's own mean and scatter are right: a combined analysis of several statistics would be biased."
    }

    def _basis(self, ctx: Context) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """Per block: (bins kept, mean, loadings (B_kept, K) scaled by the bins' spread), fitted on the reference."""
        key = ("joint", "basis")
        if key not in ctx.cache:
            basis = []
            for _, metric, start in BLOCKS:
                r = _block(metric().set_features(ctx.reference, "reference", ctx)[1], start)
                sd = r.std(0, ddof=1)
                keep = sd > 0
                z = (r[:, keep] - r[:, keep].mean(0)) / sd[keep]
                _, v = np.linalg.eigh(np.corrcoef(z, rowvar=False))
                k = min(COMPONENTS, int(keep.sum()))
                load = v[:, ::-1][:, :k] / sd[keep][:, None]
                basis.append((keep, r[:, keep].mean(0), load))
            ctx.cache[key] = basis
        return ctx.cache[key]

    def _project(self, per_block: list[dict], ctx: Context) -> np.ndarray:
        """(n, Σ K) the blocks' components of per-map features ({key: (n, B)} per block)."""
        parts = []
        for (_, _, start), f, (keep, mean, load) in zip(BLOCKS, per_block, self._basis(ctx)):
            parts.append((_block(f, start)[:, keep] - mean) @ load)
        return np.concatenate(parts, axis=1)

    def _sizes(self, ctx: Context) -> list[int]:
        return [load.shape[1] for _, _, load in self._basis(ctx)]

    def features(self, maps, ctx: Context):
        per_block = [m().features(maps, ctx)[1] for _, m, _ in BLOCKS]
        return np.arange(sum(self._sizes(ctx))), {"components": self._project(per_block, ctx)}

    def set_features(self, maps, label, ctx: Context):
        per_block = [m().set_features(maps, label, ctx)[1] for _, m, _ in BLOCKS]
        return np.arange(sum(self._sizes(ctx))), {"components": self._project(per_block, ctx)}

    def pool_features(self, ctx: Context) -> dict[str, np.ndarray]:
        key = ("joint", "pool")
        if key not in ctx.cache:
            ctx.cache[key] = {"components": self._project([m().pool_features(ctx) for _, m, _ in BLOCKS], ctx)}
        return ctx.cache[key]

    def compare(self, fg: dict, fr: dict, x: np.ndarray, ctx: Context) -> list[dict]:
        _, ca, _ = moments(fg["components"])
        _, cr, _ = moments(fr["components"])
        values = cross_correlation_rms(ca[None], cr, self._sizes(ctx))
        return [row(name, np.nan, v[0], 0.0, True, "cross-covariance") for name, v in values.items()]

    def null_summaries(self, fg: dict, fr: dict, ctx: Context) -> dict[str, np.ndarray]:
        x = self.pool_features(ctx)["components"]
        xc = (x - x.mean(0)).astype(np.float32)
        xx = (xc[:, :, None] * xc[:, None, :]).reshape(len(x), -1)
        _, cr, _ = moments(fr["components"])
        parts: dict[str, list] = {}
        for sel in ctx.null.selections():
            _, ca = subset_moments(sel, xc, xx)
            for k, v in cross_correlation_rms(ca, cr, self._sizes(ctx)).items():
                parts.setdefault(k, []).append(v)
        return {k: np.concatenate(v) for k, v in parts.items()}
