"""Nearest-neighbour memorisation check: are generated maps closer to training maps than new real maps are?"""

from __future__ import annotations

import numpy as np

from .. import stats
from ..contracts import MetricResult, Plot
from .base import CI_LEVEL, Context, clopper_pearson, row

# maps count from this many times the 99th percentile of held-out maps' margins (see Memorisation); whole copies
# with 0.5 σ_κ of noise have margins of 0.77-0.95 at the default size, the cutoff is ~0.63 there
CUTOFF = 2.0


def inverse_symmetry(k: int) -> int:
    """The D4 element undoing symmetry k (quarter turns invert to the opposite turn; reflections are involutions)."""
    return (4 - k) % 4 if k < 4 else k


def aligned(train_map: np.ndarray, k: int, offset: tuple[int, int]) -> np.ndarray:
    """A training map moved onto the generated map it was matched with (for the report's closest pairs)."""
    return np.ascontiguousarray(
        stats.symmetry(np.roll(train_map, (int(offset[0]), int(offset[1])), axis=(0, 1)), inverse_symmetry(k))
    )


def square_in_map(n: int, k: int, corner: tuple[int, int]) -> tuple[int, int, int]:
    """(row, column, side) of the matching (n/2)² square in the generated map's own frame, given its top-left
    ``corner`` in the frame of symmetry k (for outlining it in the report)."""
    w = n // 2
    m = np.zeros((n, n), bool)
    m[corner[0] : corner[0] + w, corner[1] : corner[1] + w] = True
    rows, cols = np.nonzero(stats.symmetry(m, inverse_symmetry(k)))
    return int(rows.min()), int(cols.min()), w


def like_sized_chunks(total: int, size: int) -> list[np.ndarray]:
    """Indices of ``total`` training maps in the fewest chunks of at most ``size`` maps, their sizes differing by
    at most one, so that every training map is in exactly one chunk."""
    return np.array_split(np.arange(total), max(1, -(-total // size)))


class Memorisation:
    """Are generated maps, or large parts of them, much nearer to a training map than to any new real map, up to
    translations and symmetries?

    Distance: ``stats.PatchNeighbourIndex``, the RMS difference over the best-matching square of (n/2)² pixels
    (a quarter of the map) at the best cyclic shift and symmetry of the square. So a training map shifted, cut
    at an offset, rotated or flipped, with or without noise, is near its source, and so is a map stitched from
    quadrants of training maps or a fresh map with a training crop pasted into it: each of their copied regions
    sits at ~0 from its source.

    Like with like: the training split is cut into K chunks of at most as many maps as the validation split
    (every training map in one, ``like_sized_chunks``), and beside them stand J control sets of as many maps
    (to within one) of real maps in no training chunk: the validation maps and, where the null has fresh maps
    of the dataset's generator (``NullDraws.outside_training``), up to K − 1 sets of those. Per map: d1, the
    smallest distance to any set, and d2, the smallest distance *over the same square* to a map of another set
    (both from one search over all sets; "the same square" so that a patchwork's other sources, which explain
    other parts of the map, are not rivals of the first); its *margin* is ln(d2 / d1), and it is *near a
    training map* when d1 is in a training chunk. For a map that is no copy the K + J sets are alike, so which
    set is nearest is uniform over them, whatever the map looks like, and independent of the margin (both are
    unchanged by relabelling the sets): among the M generated maps whose margin exceeds the cutoff (``CUTOFF``
    times the 99th percentile of held-out maps' margins, a scale from real maps only), the number L near a
    training map is Binomial(M, K / (K + J)); the p-value is that binomial tail (exact, in log space). Maps that
    merely lack small-scale power have wider margins but no preference for training chunks: not flagged. A copy
    (whole, with noise of 0.5 σ_κ: margin ~0.8; a region: margin ≫ 1) is nearest its chunk by a wide margin.
    The search can miss a source (docs/validation.md: the rates measured for each kind of copy). At one cosmology of a
    dataset of several (``ctx.params``) the training chunks are that cosmology's training maps; at a held-out
    cosmology, which has none, every training map (many chunks beside few controls: a weak test).
    """

    name = "memorisation"
    description = (
        "nearest-map distance over the best-matching quarter of the map, up to translations and the 8 square "
        "symmetries, to training maps and to as many new real maps: generated maps (or large parts of them) much "
        "nearer to a training map than chance allows"
    )
    aspects = ("memorisation",)
    headline = ("fraction-near-copies",)
    # A flag means the model copies its training maps: the leaderboard lists it apart, unranked.
    disqualifies = True
    # Its own reach at the score's n, a row of its results: what its verdict card says it would have flagged.
    reach = {"detectable-copy-fraction": "copies of training maps (whole, patchworks, pasted crops) in ≥ {percent}% "
             "of the maps (this n)"}  # fmt: skip
    plots = (
        Plot(
            "nearest-training-map distance",
            ("nn-distance",),
            "percentile over maps",
            "RMS Δκ to nearest training map",  # over the best-matching quarter (the description says so)
        ),
    )
    explain = {
        "memorisation": "A flag means more generated maps than chance allows have a quarter of the map (or more) "
        "much nearer to one training map than to any new real map: whole copies, patchworks of training quadrants, "
        "pasted training crops, up to shifts, rotations and flips. Closeness is judged against sets of new real "
        "maps as large as the training chunks, so maps that merely lack small-scale power (close to everything) "
        "are not flagged. The closest pairs are shown below, the matching square outlined."
    }

    def evaluate(self, generated, reference, heldout, ctx: Context) -> MetricResult:
        if ctx.train is None:
            return MetricResult([])
        g, r, h = (np.asarray(x, np.float32) for x in (generated, reference, heldout))
        if "memorisation" not in ctx.cache:  # what does not depend on the generated maps
            ctx.cache["memorisation"] = _Sets.build(ctx, r, h)
        sets: _Sets = ctx.cache["memorisation"]
        near = sets.nearest(g)
        n = len(g)
        tail = near["margin"] > sets.cutoff
        copies = tail & near["to_train"]
        big_m, big_l = int(tail.sum()), int(copies.sum())
        q = sets.k / (sets.k + sets.j)  # the chance that a map that is no copy is nearest to a training chunk
        log_p = _log_binom_sf(big_l, big_m, q)
        # the smallest count flagged when every map past the cutoff is near a training map: q^k ≤ alpha
        k_star = int(np.ceil(np.log(ctx.alpha) / np.log(q)))
        flagged_row = {
            **row("fraction-near-copies", np.nan, copies.mean(), 0.0, True, "memorisation"),
            "p_value": float(np.exp(log_p)),
            "flagged": bool(log_p <= np.log(ctx.alpha)),
            "floor": (k_star - 1) / n,  # above it is flagged when every map past the cutoff is near a training map
            "one_sided": True,  # only maps near training maps are memorisation
        }
        dg, dh = near["distance"], sets.heldout["distance"]
        rows = [
            flagged_row,
            row("fraction-near-new-maps", np.nan, (tail & ~near["to_train"]).mean(), 0.0, False, "memorisation"),
            row("median-distance-ratio", np.nan, float(np.median(dg) / np.median(dh)), 1.0, False, "memorisation"),
            row("detectable-copy-fraction", np.nan, min(1.0, k_star / n), 0.0, False, "memorisation"),
        ]
        # Intervals: exact (Clopper–Pearson) for the fractions, percentile bootstrap for the median ratio.
        for r_, mask in ((rows[0], copies), (rows[1], tail & ~near["to_train"])):
            r_["ci_low"], r_["ci_high"] = clopper_pearson(int(mask.sum()), n)
        if ctx.bootstrap_draws:
            brng = np.random.default_rng([ctx.seed, 2])
            ratios = [
                np.median(dg[brng.integers(0, n, n)]) / np.median(dh[brng.integers(0, len(dh), len(dh))])
                for _ in range(ctx.bootstrap_draws)
            ]
            lo, hi = np.quantile(ratios, [(1 - CI_LEVEL) / 2, (1 + CI_LEVEL) / 2])
            if lo <= rows[2]["value"] <= hi:
                rows[2]["ci_low"], rows[2]["ci_high"] = float(lo), float(hi)
        # the closest pairs: the widest margins to a training map first
        order = np.argsort(-np.where(near["to_train"], near["margin"], -np.inf), kind="stable")[:8]
        extras = {
            "generated_index": order.tolist(),
            "train_index": near["index"][order].tolist(),
            "distance": dg[order].tolist(),
            "margin": near["margin"][order].tolist(),
            "cutoff": float(sets.cutoff),
            "sets": {"training chunks": sets.k, "control sets": sets.j, "maps per set": len(r)},
            "heldout_median": float(np.median(dh)),
            "train_maps": [
                aligned(sets.train_maps[near["index"][i]], int(near["symmetry"][i]), near["offset"][i]) for i in order
            ],
            "squares": [square_in_map(g.shape[-1], int(near["symmetry"][i]), near["corner"][i]) for i in order],
            # what the verdict counts, for the report's margin figure: every map's margin and nearest set
            "margins": {
                "generated": near["margin"].tolist(),
                "to_train": near["to_train"].tolist(),
                "heldout": sets.heldout["margin"].tolist(),
                "chance": q,
                "p_value": float(np.exp(log_p)),
            },
        }
        curves = [
            {"statistic": "nn-distance", "x": float(q), "set": label, "mean": float(np.percentile(d, q)), "std": np.nan}
            for label, d in (("generated", dg), ("heldout", dh))
            for q in (1, 5, 25, 50, 75, 95)
        ]
        return MetricResult(rows, curves, extras)


class _Sets:
    """The K training chunks and J control sets of one reference in one neighbour index (searched once per
    query), their labels, and the held-out maps' figures."""

    def __init__(self, train_maps: np.ndarray, controls: list[np.ndarray], device: str):
        self.train_maps = train_maps
        chunks = like_sized_chunks(len(train_maps), len(controls[0]))
        size = min(map(len, chunks))
        controls = [c[:size] for c in controls]  # every set of the same size, to within one map
        self.k, self.j = len(chunks), len(controls)
        # one index over every set; ``source`` maps its rows back to the training split (−1: a control map)
        self.label = np.concatenate([np.full(len(c), i) for i, c in enumerate([*chunks, *controls])])
        self.source = np.concatenate([*chunks, np.full(sum(map(len, controls)), -1)])
        maps = np.concatenate([train_maps[np.concatenate(chunks)], *controls])
        self.index = stats.PatchNeighbourIndex(maps, device=device)
        self.heldout: dict[str, np.ndarray] = {}
        self.cutoff = np.inf

    @classmethod
    def build(cls, ctx: Context, r: np.ndarray, h: np.ndarray) -> _Sets:
        # At one cosmology of several: the training maps of that cosmology, like the controls (all of them would
        # make ~100 chunks beside a few control sets, and the test nearly blind). At a held-out cosmology there are
        # none: every training map, and the test is weak there.
        here = ctx.train.of_cosmology(ctx.params)
        train = ctx.train if here is None else here
        train_maps = np.asarray(train.get(slice(0, len(train))), dtype=np.float32)
        m = len(r)
        controls = [r]
        outside = ctx.null.outside_training() if ctx.null is not None else None
        if outside is not None:  # fresh real maps: as many control sets as training chunks, the validation one first
            k = len(like_sized_chunks(len(train_maps), m))
            controls += [outside[i * m : (i + 1) * m] for i in range(min(k - 1, len(outside) // m))]
        sets = cls(train_maps, controls, ctx.device)
        sets.heldout = sets.nearest(h)
        margins = sets.heldout["margin"][np.isfinite(sets.heldout["margin"])]
        sets.cutoff = CUTOFF * float(np.quantile(margins, 0.99)) if len(margins) else np.inf
        return sets

    def nearest(self, maps: np.ndarray) -> dict[str, np.ndarray]:
        """Per map: ``margin`` ln(d2 / d1), d1 the smallest distance over the sets and d2 the smallest over d1's
        square in another set (among the candidates; the largest candidate distance there if all are in one set),
        ``to_train`` (whether d1 is in a training chunk), and its nearest training candidate (``distance``,
        ``index`` in the training split, ``symmetry``, ``offset``, ``corner`` of the matching square in the
        symmetry's frame; d1's map when no candidate is a training map)."""
        found = self.index.query_candidates(maps)
        d, label = found["distance"], self.label[found["index"]]  # (n, C)
        rows = np.arange(len(maps))
        first = d.argmin(1)
        d1, set1 = d[rows, first], label[rows, first]
        # rivals for the same region only: a patchwork's other sources explain other parts of the map
        there = found["on_nearest_square"]
        other = np.where(label != set1[:, None], there, np.inf).min(1)
        d2 = np.where(np.isfinite(other), other, there.max(1))
        with np.errstate(divide="ignore", invalid="ignore"):
            margin = np.nan_to_num(np.log(d2) - np.log(d1), nan=0.0)  # 0/0: two maps equal to the query
        is_train = self.source[found["index"]] >= 0
        t = np.where(is_train.any(1), np.where(is_train, d, np.inf).argmin(1), first)
        return {
            "distance": d[rows, t],
            "index": np.maximum(self.source[found["index"][rows, t]], 0),
            "symmetry": found["symmetry"][rows, t],
            "offset": found["offset"][rows, t],
            "corner": found["corner"][rows, t],
            "margin": margin,
            "to_train": set1 < self.k,
        }


def _log_binom_sf(k: int, m: int, q: float) -> float:
    """log P(X ≥ k) for X ~ Binomial(m, q), summed in log space (exact far below 1e-300)."""
    from scipy import stats as sps

    if k <= 0:
        return 0.0
    return float(np.logaddexp.reduce(sps.binom.logpmf(np.arange(k, m + 1), m, q)))
