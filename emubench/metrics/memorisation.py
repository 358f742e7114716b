"""Nearest-neighbour memorisation check: are generated maps closer to training maps than new real maps are?"""

from __future__ import annotations

import numpy as np
from scipy import stats as sps

from ..data.augment import symmetry
from ..stats import NeighbourIndex
from .base import CI_LEVEL, Context, row

PERCENTILE = 1.0   # threshold: this percentile of held-out maps' nearest-training-map distances


def nn_distance(maps: np.ndarray, train: NeighbourIndex, symmetries: bool) -> tuple[np.ndarray, np.ndarray]:
    """Distance (κ, Euclidean over pixels) from each map to its nearest training map, optionally minimised
    over the 8 symmetries of the square (applied to the query, which is equivalent and 8× cheaper in memory)."""
    best_d = np.full(len(maps), np.inf)
    best_i = np.zeros(len(maps), dtype=np.int64)
    for k in range(8 if symmetries else 1):
        d, i = train.query(np.ascontiguousarray(symmetry(maps, k)))
        better = d < best_d
        best_d[better], best_i[better] = d[better], i[better]
    return best_d, best_i


class Memorisation:
    """Fraction of generated maps closer to a training map than the 1st percentile of held-out maps' distances."""

    name = "memorisation"
    description = "nearest-training-map distances (up to the 8 square symmetries): fraction closer than held-out maps' 1st percentile"
    symmetries = True

    def evaluate(self, generated, reference, heldout, ctx: Context) -> list[dict]:
        if ctx.train is None:
            return []
        # the training maps are prepared for search once, then queried by all three sets under all symmetries
        train = NeighbourIndex(np.asarray(ctx.train.get(slice(0, len(ctx.train))), dtype=np.float32), device=ctx.device)
        dg, ig = nn_distance(np.asarray(generated, np.float32), train, self.symmetries)
        dh, _ = nn_distance(np.asarray(heldout, np.float32), train, self.symmetries)
        dr, _ = nn_distance(np.asarray(reference, np.float32), train, self.symmetries)
        threshold = np.percentile(dh, PERCENTILE)
        n = len(dg)
        frac = float(np.mean(dg < threshold))
        # If generated maps were as new as real held-out maps, the count below the threshold would be
        # Binomial(n, 1%); the floor is its 99th percentile.
        floor = float(sps.binom.ppf(0.99, n, PERCENTILE / 100) / n)
        closest = np.argsort(dg)[:8]
        ctx.extras["memorisation"] = {"generated_index": closest.tolist(), "train_index": ig[closest].tolist(),
                                      "distance": dg[closest].tolist(), "threshold": float(threshold),
                                      "heldout_median": float(np.median(dh))}
        ctx.curves += [{"metric": self.name, "statistic": "nn-distance", "x": float(q), "set": label,
                        "mean": float(np.percentile(d, q)), "std": np.nan}
                       for label, d in (("generated", dg), ("reference", dr), ("heldout", dh))
                       for q in (1, 5, 25, 50, 75, 95)]
        below_ref = int(np.sum(dr < threshold))
        rows = [
            {**row("fraction-below-threshold", np.nan, frac, 0.0, True, "memorisation"), "floor": floor, "flagged": frac > floor},
            {**row("reference-fraction-below-threshold", np.nan, below_ref / n, 0.0, False, "memorisation"),
             "floor": floor, "flagged": False},
            {**row("median-distance-ratio", np.nan, float(np.median(dg) / np.median(dh)), 1.0, False, "memorisation"),
             "floor": np.nan, "flagged": False},
        ]
        # Intervals: exact (Clopper–Pearson) for the two fractions, percentile bootstrap for the median ratio.
        for r_, k in ((rows[0], int(np.sum(dg < threshold))), (rows[1], below_ref)):
            ci = sps.binomtest(k, n).proportion_ci(CI_LEVEL, method="exact")
            r_["ci_low"], r_["ci_high"] = float(ci.low), float(ci.high)
        if ctx.bootstrap_draws:
            rng = np.random.default_rng([ctx.seed, 2])
            ratios = [np.median(dg[rng.integers(0, n, n)]) / np.median(dh[rng.integers(0, len(dh), len(dh))])
                      for _ in range(ctx.bootstrap_draws)]
            rows[2]["ci_low"], rows[2]["ci_high"] = (float(q) for q in np.quantile(ratios, [(1 - CI_LEVEL) / 2, (1 + CI_LEVEL) / 2]))
        return rows
