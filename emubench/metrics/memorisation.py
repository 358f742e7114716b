"""Nearest-neighbour memorisation check: are generated maps closer to training maps than new real maps are?"""

from __future__ import annotations

import numpy as np

from .. import stats
from ..contracts import MetricResult, Plot
from .base import CI_LEVEL, Context, clopper_pearson, row

PERCENTILE = 1.0  # threshold: this percentile of held-out maps' ratios


def betabinom_log_sf(n: int, a: float, b: float) -> np.ndarray:
    """log P(K ≥ k) for k = 0 … n + 1 of K ~ BetaBinomial(n, a, b), (n + 2,), summed in log space from the top
    so that tail probabilities far below 1e-300 keep their digits (scipy's ``sf`` is 1 − cdf in floating point
    and loses them below ~1e-12)."""
    from scipy import stats as sps

    log_pmf = sps.betabinom.logpmf(np.arange(n + 1), n, a, b)
    return np.append(np.logaddexp.accumulate(log_pmf[::-1])[::-1], -np.inf)


def inverse_symmetry(k: int) -> int:
    """The D4 element undoing symmetry k (quarter turns invert to the opposite turn; reflections are involutions)."""
    return (4 - k) % 4 if k < 4 else k


def aligned(train_map: np.ndarray, k: int, offset: tuple[int, int]) -> np.ndarray:
    """A training map moved onto the generated map it was matched with (for the report's closest pairs)."""
    return np.ascontiguousarray(
        stats.symmetry(np.roll(train_map, (int(offset[0]), int(offset[1])), axis=(0, 1)), inverse_symmetry(k))
    )


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
    null is exact for exchangeable maps, whatever their distribution: a beta-binomial count.
    """

    name = "memorisation"
    description = (
        "nearest-training-map distance up to translations and the 8 square symmetries, relative to the "
        "nearest validation map: fraction of generated maps below held-out maps' 1st percentile"
    )
    aspects = ("memorisation",)
    headline = ("fraction-closer-to-training",)
    plots = (
        Plot(
            "nearest-training-map distance",
            ("nn-distance",),
            "percentile over maps",
            "RMS κ difference to the nearest training map",
        ),
    )
    explain = {
        "memorisation": "A flag means more generated maps sit unusually close to a training map than new real "
        "maps do: near-copies, up to shifts, rotations and flips. The distance is relative to each map's nearest "
        "validation map, so maps that merely lack small-scale power (close to everything) are not flagged. "
        "The closest pairs are shown below."
    }

    def evaluate(self, generated, reference, heldout, ctx: Context) -> MetricResult:
        if ctx.train is None:
            return MetricResult([])
        g, r, h = (np.asarray(x, np.float32) for x in (generated, reference, heldout))
        if "memorisation" not in ctx.cache:  # what does not depend on the generated maps
            train_maps = np.asarray(ctx.train.get(slice(0, len(ctx.train))), dtype=np.float32)
            train = stats.ShiftNeighbourIndex(train_maps, device=ctx.device)
            val = stats.ShiftNeighbourIndex(r, device=ctx.device)
            dh = train.query(h)["distance"]
            with np.errstate(divide="ignore", invalid="ignore"):
                ratio_h = dh / val.query(h)["distance"]
            ctx.cache["memorisation"] = (train_maps, train, val, dh, ratio_h)
        train_maps, train, val, dh, ratio_h = ctx.cache["memorisation"]
        ng = train.query(g)
        dg = ng["distance"]
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio_g = dg / val.query(g)["distance"]
        n = len(g)

        # threshold: the r-th smallest held-out ratio, r = ⌈1% of n⌉ (the 1st percentile)
        r_th = max(1, int(np.ceil(PERCENTILE / 100 * n)))
        threshold = np.sort(ratio_h)[r_th - 1]
        k_obs = int(np.sum(ratio_g < threshold))
        rel = k_obs / n
        frac = float(np.mean(dg < np.sort(dh)[r_th - 1]))
        # The exact null, free of any distribution: if generated and held-out ratios are exchangeable, the
        # threshold sits at a Beta(r, n − r + 1) quantile of their common distribution, so the count below it is
        # BetaBinomial(n, r, n − r + 1) (a permutation null would be polluted by the copies it looks for).
        log_sf = betabinom_log_sf(n, r_th, n - r_th + 1)  # log P(count ≥ k), k = 0 … n + 1
        ideal = r_th / (n + 1)  # its mean fraction
        p_value = float(np.exp(log_sf[k_obs]))
        k_star = int(np.argmax(log_sf <= np.log(ctx.alpha)))  # the smallest count that is flagged
        flagged_row = {
            **row("fraction-closer-to-training", np.nan, rel, ideal, True, "memorisation"),
            "p_value": p_value,
            "flagged": p_value <= ctx.alpha,
            "floor": (k_star - 1) / n - ideal,  # a fraction above it is flagged
            "one_sided": True,  # only too many maps below the threshold is memorisation; fewer is not a flaw
        }
        # The detection limit: copies (ratio ~0, always below the threshold) among otherwise new maps, each of
        # which falls below it at the rate ``ideal``, reach the flagged count k* on average from this many on.
        copies = min(n, int(np.ceil(max(0.0, k_star - ideal * n) / (1 - ideal))))
        rows = [
            flagged_row,
            row("fraction-below-threshold", np.nan, frac, ideal, False, "memorisation"),
            row("median-distance-ratio", np.nan, float(np.median(dg) / np.median(dh)), 1.0, False, "memorisation"),
            row("detectable-copy-fraction", np.nan, copies / n, 0.0, False, "memorisation"),
        ]
        # Intervals: exact (Clopper–Pearson) for the fractions, percentile bootstrap for the median ratio.
        for r_, k in ((rows[0], k_obs), (rows[1], int(round(frac * n)))):
            r_["ci_low"], r_["ci_high"] = clopper_pearson(k, n)
        if ctx.bootstrap_draws:
            brng = np.random.default_rng([ctx.seed, 2])
            ratios = [
                np.median(dg[brng.integers(0, n, n)]) / np.median(dh[brng.integers(0, len(dh), len(dh))])
                for _ in range(ctx.bootstrap_draws)
            ]
            lo, hi = np.quantile(ratios, [(1 - CI_LEVEL) / 2, (1 + CI_LEVEL) / 2])
            if lo <= rows[2]["value"] <= hi:
                rows[2]["ci_low"], rows[2]["ci_high"] = float(lo), float(hi)
        closest = np.argsort(ratio_g)[:8]
        extras = {
            "generated_index": closest.tolist(),
            "train_index": ng["index"][closest].tolist(),
            "distance": dg[closest].tolist(),
            "ratio": ratio_g[closest].tolist(),
            "ratio_threshold": float(threshold),
            "heldout_median": float(np.median(dh)),
            "train_maps": [
                aligned(train_maps[ng["index"][i]], int(ng["symmetry"][i]), ng["offset"][i]) for i in closest
            ],
        }
        curves = [
            {"statistic": "nn-distance", "x": float(q), "set": label, "mean": float(np.percentile(d, q)), "std": np.nan}
            for label, d in (("generated", dg), ("heldout", dh))
            for q in (1, 5, 25, 50, 75, 95)
        ]
        return MetricResult(rows, curves, extras)
