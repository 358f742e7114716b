"""The real-vs-real null every verdict is calibrated on, in one place.

A null draw is n *real* maps that are in neither the reference nor the held-out set, compared with the same fixed
reference exactly as the generated maps are: the distribution of each statistic for a perfect emulator scored
against this reference. The draws come from a pool of real maps:

- ``fresh`` (datasets with a generator, the default there): ``POOL_FACTOR``·n new maps of the dataset's generator,
  in no split;
- ``train`` (files of real maps, and training-time validation): up to ``POOL_FACTOR``·n maps of the training split,
  chosen at random. They are real maps, independent of the reference; that a model was trained on them does not
  matter, since the null never looks at the model.

The generated maps never enter the null, so a row's null median, spread and ``floor`` depend only on the reference,
n, the null settings and the dataset: two models scored with the same settings get the same floors, and "× floor"
compares across models. (Until version 0.1 the draws mixed the generated maps into the pool, which made the floor
of a model with a large scatter flaw grow with the flaw.)

A draw takes its n maps from the pool *with* replacement. Subsets without replacement would each be an i.i.d. set,
but all of them scatter around the one pool they share with (1 − 1/POOL_FACTOR) of a set's variance: a null
narrower than a perfect emulator's, which (simulated for a difference of means at n = 50, 6,000 trials) flagged
2.2% at a stated 1.25%. With replacement the scatter about the pool is a set's own; what remains is the pool's
own offset from the truth, 1/POOL_FACTOR of a set's variance, shared by every draw (same simulation: 1.5% at
1.25%, 0.95% at 0.625%, 5.1% at 5%). The stated rates are measured, not assumed (``emubench calibrate``;
docs/validation.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from ..errors import EmubenchError
from ..progress import Bar
from ..settings import NULL_CHOICES as CHOICES

if TYPE_CHECKING:
    from ..data import MapSet

POOL_FACTOR = 8  # the pool holds this many times n real maps
_STREAM = 0x6E756C6C  # "null": the draws' own random stream, so that nothing else shifts them


@dataclass(frozen=True)
class NullDraws:
    """Which real maps make up each null draw, shared by every metric of a score.

    source: "fresh" or "train" (where the pool came from); pool: (P, H, W) κ real maps outside the reference and the
    held-out set; index: (D, n) rows of ``pool`` for each of the D draws (with replacement), each compared with the
    fixed reference. (``scoring.score`` keys a cached null by what it depends on and refuses another.)"""

    source: str
    pool: np.ndarray
    index: np.ndarray

    @classmethod
    def make(cls, pool: np.ndarray, n: int, draws: int, seed: int, source: str) -> NullDraws:
        """``draws`` sets of n maps of ``pool`` (P, H, W) drawn with replacement, from the null's own stream of
        ``seed``."""
        pool = np.asarray(pool, dtype=np.float32)
        if len(pool) < 2 * n:
            raise EmubenchError(f"a null of {source} maps needs at least 2n = {2 * n} of them, got {len(pool)}")
        rng = np.random.default_rng([seed, _STREAM])
        index = np.sort(rng.integers(0, len(pool), (draws, n)), axis=1)
        return cls(source, pool, index)

    def __len__(self) -> int:
        return len(self.index)

    @property
    def n(self) -> int:
        """Maps in each draw (the score's n)."""
        return int(self.index.shape[1])

    def selections(self, chunk: int = 250):
        """(D_chunk, P) float32 matrices of how often each pool map is in each draw (rows sum to n), a chunk of draws
        at a time: a draw's set statistic that is a mean over maps is one matrix product with the pool's per-map
        features."""
        for s in range(0, len(self), chunk):
            part = self.index[s : s + chunk]
            # counts of each (draw, pool map) pair: bincount on flat indices is ~4× ``np.add.at``
            flat = (np.arange(len(part))[:, None] * len(self.pool) + part).ravel()
            yield np.bincount(flat, minlength=len(part) * len(self.pool)).astype(np.float32).reshape(len(part), -1)

    def features(self, compute, cache: dict, key) -> np.ndarray | dict:
        """``compute(maps)`` of the whole pool, 1,024 maps at a time, kept in ``cache[key]`` (per-map features
        (P, ...) or a dict of them) so that scores of many models against one reference compute it once."""
        if key not in cache:
            parts = []
            with Bar("null pool statistics", total=len(self.pool), unit="maps") as bar:
                for s in range(0, len(self.pool), 1024):
                    parts.append(compute(self.pool[s : s + 1024]))
                    bar.update(min(1024, len(self.pool) - s))
            if isinstance(parts[0], dict):
                cache[key] = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
            else:
                cache[key] = np.concatenate(parts)
        return cache[key]

    def outside_training(self) -> np.ndarray | None:
        """The pool when its maps are in no split (fresh maps of the generator), else None (a pool of training
        maps): real maps the memorisation check can set beside the training maps."""
        return self.pool if self.source == "fresh" else None

    def describe(self) -> str:
        """One sentence for a report: what the null is made of."""
        where = {
            "fresh": "fresh maps of the dataset's generator (new seeds, in no split)",
            "train": "maps of the training split",
        }[self.source]
        return (
            f"{len(self)} draws of {self.n} (with replacement) of {len(self.pool):,} real {where}, each compared "
            "with the fixed reference; the generated maps are never part of the null"
        )


def choose_source(choice: str, reference: MapSet) -> str:
    """The pool a score's null is drawn from: ``choice`` ("auto", "fresh" or "train") resolved against the
    reference split (auto: fresh where the dataset has a generator, else the training split)."""
    if choice not in CHOICES:
        raise EmubenchError(f"unknown null {choice!r} ({', '.join(CHOICES)})")
    if choice == "fresh" and reference.fresh is None:
        raise EmubenchError(
            f"dataset {reference.name.split(':')[0]} has no generator: a fresh null is not possible, "
            "use --null train (maps of the training split)"
        )
    if choice == "auto":
        return "fresh" if reference.fresh is not None else "train"
    return choice


def make_null(splits: dict[str, MapSet], n: int, draws: int, seed: int, choice: str = "auto") -> NullDraws:
    """The null of a score of n maps against ``splits["val"]``: ``draws`` sets of n maps of a pool of real maps."""
    source = choose_source(choice, splits["val"])
    size = POOL_FACTOR * n
    if source == "fresh":
        pool = splits["val"].fresh(size, seed)
    else:
        train, val = splits.get("train"), splits["val"]
        if train is not None and val.params is not None and len(val):
            train = train.of_cosmology(val.params[0])  # a score at one cosmology: a null of that cosmology's maps
            if train is None:
                raise EmubenchError(
                    f"{val.name}: no training maps at this cosmology (a held-out one) to draw a null from "
                    "(--null fresh needs a generator)"
                )
        have = 0 if train is None else len(train)
        if have < 2 * n:
            raise EmubenchError(
                f"the training split has {have} maps: a null drawn from it needs at least 2n = {2 * n} "
                "(score fewer maps with -n)"
            )
        rng = np.random.default_rng([seed, _STREAM, 1])
        pool = train.get(np.sort(rng.choice(have, min(have, size), replace=False)))
    return NullDraws.make(pool, n, draws, seed, source)
