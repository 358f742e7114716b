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
    """Do generated maps sit closer to the training maps than new real maps do?

    Two views, both up to the 8 symmetries of the square:
    - the issue's raw check: the fraction of generated maps closer to a training map than the 1st percentile of
      held-out maps' nearest-training distances (reported);
    - the flagged check, relative: for each map, d_train / d_val, its nearest-training distance over its
      nearest-validation distance. A copy of a training map has a ratio near 0; a new map has the ratio real
      held-out maps have, whatever its amplitude. (The raw distance alone also falls for a generator whose maps
      merely have too little small-scale power, which is not memorisation.) Flagged: the fraction of generated
      maps below the 1st percentile of held-out maps' ratios, against the Binomial(n, 1%) floor.
    """

    name = "memorisation"
    description = ("nearest-training-map distance relative to the nearest validation map (up to the 8 square symmetries): "
                   "fraction of generated maps below held-out maps' 1st percentile")
    symmetries = True

    def evaluate(self, generated, reference, heldout, ctx: Context) -> list[dict]:
        if ctx.train is None:
            return []
        g, r, h = (np.asarray(x, np.float32) for x in (generated, reference, heldout))
        # each set of maps is prepared for search once, then queried under all symmetries
        train = NeighbourIndex(np.asarray(ctx.train.get(slice(0, len(ctx.train))), dtype=np.float32), device=ctx.device)
        val, test = NeighbourIndex(r, device=ctx.device), NeighbourIndex(h, device=ctx.device)
        dg, ig = nn_distance(g, train, self.symmetries)
        dh, _ = nn_distance(h, train, self.symmetries)
        dr, _ = nn_distance(r, train, self.symmetries)
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio_g = dg / nn_distance(g, val, self.symmetries)[0]
            ratio_h = dh / nn_distance(h, val, self.symmetries)[0]
            ratio_r = dr / nn_distance(r, test, self.symmetries)[0]  # validation maps against the test maps instead
        threshold = np.percentile(dh, PERCENTILE)
        ratio_threshold = np.percentile(ratio_h, PERCENTILE)
        n = len(dg)
        frac = float(np.mean(dg < threshold))
        rel = float(np.mean(ratio_g < ratio_threshold))
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
        below_ref = int(np.sum(ratio_r < ratio_threshold))
        rows = [
            {**row("fraction-closer-to-training", np.nan, rel, 0.0, True, "memorisation"), "floor": floor, "flagged": rel > floor},
            {**row("reference-fraction-closer-to-training", np.nan, below_ref / n, 0.0, False, "memorisation"),
             "floor": floor, "flagged": False},
            {**row("fraction-below-threshold", np.nan, frac, 0.0, False, "memorisation"), "floor": floor, "flagged": frac > floor},
            {**row("median-distance-ratio", np.nan, float(np.median(dg) / np.median(dh)), 1.0, False, "memorisation"),
             "floor": np.nan, "flagged": False},
        ]
        # Intervals: exact (Clopper–Pearson) for the fractions, percentile bootstrap for the median ratio.
        for r_, k in ((rows[0], int(np.sum(ratio_g < ratio_threshold))), (rows[1], below_ref), (rows[2], int(np.sum(dg < threshold)))):
            ci = sps.binomtest(k, n).proportion_ci(CI_LEVEL, method="exact")
            r_["ci_low"], r_["ci_high"] = float(ci.low), float(ci.high)
        if ctx.bootstrap_draws:
            rng = np.random.default_rng([ctx.seed, 2])
            ratios = [np.median(dg[rng.integers(0, n, n)]) / np.median(dh[rng.integers(0, len(dh), len(dh))])
                      for _ in range(ctx.bootstrap_draws)]
            rows[3]["ci_low"], rows[3]["ci_high"] = (float(q) for q in np.quantile(ratios, [(1 - CI_LEVEL) / 2, (1 + CI_LEVEL) / 2]))
        return rows
