"""Two-sample Kolmogorov–Smirnov test on pixel values (not on histograms), as in the thesis and CosmoGAN."""

from __future__ import annotations

import numpy as np
from scipy import stats as sps

from ..stats import pdf
from .base import Context, attach_floor, row

PDF_NU = np.linspace(-3.0, 8.0, 45)


class PermutationKS:
    """Exact KS statistics between random halves of a pooled set of maps, each draw in O(pixels).

    The pooled pixels are sorted once; a draw only relabels which maps belong to which half, so the two
    empirical CDFs are cumulative sums along the same sorted order.
    """

    def __init__(self, maps: np.ndarray):
        n_maps, per_map = len(maps), int(np.prod(maps.shape[1:]))
        values = np.asarray(maps, dtype=np.float32).reshape(-1)
        order = np.argsort(values, kind="stable")
        self.map_of = (order // per_map).astype(np.int32)
        sorted_vals = values[order]
        # Evaluate the CDFs only after the last of tied values.
        self.last = np.nonzero(np.append(sorted_vals[1:] != sorted_vals[:-1], True))[0]
        self.n_maps, self.per_map = n_maps, per_map

    def statistic(self, in_a: np.ndarray) -> float:
        """KS D between maps with ``in_a`` True and the rest."""
        a = in_a[self.map_of]
        ca = np.cumsum(a, dtype=np.int64)[self.last]
        cb = (self.last + 1) - ca
        na, nb = int(in_a.sum()) * self.per_map, int((~in_a).sum()) * self.per_map
        return float(np.max(np.abs(ca / na - cb / nb)))


class PixelKS:
    """Two-sample KS test on all pixel values (scipy), with a real-vs-real floor from exact re-splits."""

    name = "pixel-ks"
    description = "two-sample KS test on pixel values (statistic D and p-value) against the real-vs-real floor"

    def evaluate(self, generated, reference, heldout, ctx: Context) -> list[dict]:
        g = np.asarray(generated, dtype=np.float32)
        r = np.asarray(reference, dtype=np.float32)
        h = np.asarray(heldout, dtype=np.float32)
        test = sps.ks_2samp(g.ravel(), r.ravel(), method="asymp")
        rows = [row("D", np.nan, test.statistic, 0.0, True, "distribution")]
        perm = PermutationKS(np.concatenate([r, h]))
        rng = np.random.default_rng(ctx.seed)
        draws = []
        for _ in range(ctx.floor_draws):
            in_a = np.zeros(perm.n_maps, dtype=bool)
            in_a[rng.permutation(perm.n_maps)[: len(r)]] = True
            draws.append([row("D", np.nan, perm.statistic(in_a), 0.0, True, "distribution")])
        rows = attach_floor(rows, draws)
        # The p-value treats pixels as independent, which they are not; reported for comparison with the
        # literature (thesis, CosmoGAN), never flagged: the floor above is the honest yardstick.
        rows.append({**row("p-value", np.nan, test.pvalue, 1.0, False, "distribution"), "floor": np.nan, "flagged": False})
        for label, maps in (("generated", g), ("reference", r), ("heldout", h)):
            nu, dens = pdf(maps, PDF_NU * ctx.sigma_ref)
            for xi, m, s in zip(nu / ctx.sigma_ref, dens.mean(0), dens.std(0, ddof=1)):
                ctx.curves.append({"metric": self.name, "statistic": "pdf", "x": float(xi), "set": label,
                                   "mean": float(m), "std": float(s)})
        return rows
