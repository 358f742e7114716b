"""Nearest-neighbour memorisation check: are generated maps closer to training maps than new real maps are?"""

from __future__ import annotations

import numpy as np
from scipy import stats as sps

from ..data.augment import symmetry
from ..stats import ShiftNeighbourIndex
from .base import CI_LEVEL, Context, calibrate, row

PERCENTILE = 1.0   # threshold: this percentile of held-out maps' ratios


def inverse_symmetry(k: int) -> int:
    """The D4 element undoing symmetry k (quarter turns invert to the opposite turn; reflections are involutions)."""
    return (4 - k) % 4 if k < 4 else k


def aligned(train_map: np.ndarray, k: int, offset: tuple[int, int]) -> np.ndarray:
    """A training map moved onto the generated map it was matched with (for the report's closest pairs)."""
    return np.ascontiguousarray(symmetry(np.roll(train_map, (int(offset[0]), int(offset[1])), axis=(0, 1)), inverse_symmetry(k)))


class Memorisation:
    """Do generated maps sit closer to the training maps than new real maps do, up to translations and symmetries?

    Distance: ``stats.ShiftNeighbourIndex``, the smallest RMS difference over the pixels two maps share, over
    every offset that keeps half the pixels in common (cyclic shifts included) and the 8 symmetries of the
    square. So a training map shifted by any number of pixels, cut at an offset, rotated or flipped, with or
    without noise, is still near its source.

    Per map, the ratio d_train / d_val (nearest training over nearest validation distance): a copy has a ratio
    near 0, a new map the ratio real held-out maps have, whatever its amplitude (the raw distance alone also
    falls for maps that merely lack small-scale power, which is not memorisation). The flagged statistic is the
    fraction of generated maps below the 1st percentile of held-out maps' ratios (a perfect emulator: ~1%). Its
    null is exact for exchangeable maps: the same fraction for random re-splits of generated ∪ held-out ratios.
    """

    name = "memorisation"
    description = ("nearest-training-map distance up to translations and the 8 square symmetries, relative to the "
                   "nearest validation map: fraction of generated maps below held-out maps' 1st percentile")
    aspects = ("memorisation",)

    def evaluate(self, generated, reference, heldout, ctx: Context) -> list[dict]:
        if ctx.train is None:
            return []
        g, r, h = (np.asarray(x, np.float32) for x in (generated, reference, heldout))
        train_maps = np.asarray(ctx.train.get(slice(0, len(ctx.train))), dtype=np.float32)
        train, val = ShiftNeighbourIndex(train_maps, device=ctx.device), ShiftNeighbourIndex(r, device=ctx.device)
        ng, nh = train.query(g), train.query(h)
        dg, dh = ng["distance"], nh["distance"]
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio_g = dg / val.query(g)["distance"]
            ratio_h = dh / val.query(h)["distance"]
        n = len(g)

        def fraction_below(a: np.ndarray, b: np.ndarray) -> float:
            return float(np.mean(a < np.percentile(b, PERCENTILE)))

        rel = fraction_below(ratio_g, ratio_h)
        frac = fraction_below(dg, dh)
        # null: the generated and held-out ratios are exchangeable for a perfect emulator
        both = np.concatenate([ratio_g, ratio_h])
        rng = np.random.default_rng([ctx.seed, 3])
        null = np.empty((ctx.floor_draws, 1))
        for d in range(ctx.floor_draws):
            perm = rng.permutation(2 * n)
            null[d, 0] = fraction_below(both[perm[:n]], both[perm[n:]])
        flagged_row = row("fraction-closer-to-training", np.nan, rel, PERCENTILE / 100, True, "memorisation")
        calibrate([flagged_row], null, ctx.alpha, one_sided=True)
        rows = [
            flagged_row,
            row("fraction-below-threshold", np.nan, frac, PERCENTILE / 100, False, "memorisation"),
            row("median-distance-ratio", np.nan, float(np.median(dg) / np.median(dh)), 1.0, False, "memorisation"),
        ]
        # Intervals: exact (Clopper–Pearson) for the fractions, percentile bootstrap for the median ratio.
        for r_, k in ((rows[0], int(round(rel * n))), (rows[1], int(round(frac * n)))):
            ci = sps.binomtest(k, n).proportion_ci(CI_LEVEL, method="exact")
            r_["ci_low"], r_["ci_high"] = float(ci.low), float(ci.high)
        if ctx.bootstrap_draws:
            brng = np.random.default_rng([ctx.seed, 2])
            ratios = [np.median(dg[brng.integers(0, n, n)]) / np.median(dh[brng.integers(0, len(dh), len(dh))])
                      for _ in range(ctx.bootstrap_draws)]
            lo, hi = np.quantile(ratios, [(1 - CI_LEVEL) / 2, (1 + CI_LEVEL) / 2])
            if lo <= rows[2]["value"] <= hi:
                rows[2]["ci_low"], rows[2]["ci_high"] = float(lo), float(hi)
        closest = np.argsort(ratio_g)[:8]
        ctx.extras["memorisation"] = {
            "generated_index": closest.tolist(), "train_index": ng["index"][closest].tolist(),
            "distance": dg[closest].tolist(), "ratio": ratio_g[closest].tolist(),
            "ratio_threshold": float(np.percentile(ratio_h, PERCENTILE)), "heldout_median": float(np.median(dh)),
            "train_maps": [aligned(train_maps[ng["index"][i]], int(ng["symmetry"][i]), ng["offset"][i]) for i in closest]}
        ctx.curves += [{"metric": self.name, "statistic": "nn-distance", "x": float(q), "set": label,
                        "mean": float(np.percentile(d, q)), "std": np.nan}
                       for label, d in (("generated", dg), ("heldout", dh)) for q in (1, 5, 25, 50, 75, 95)]
        return rows
