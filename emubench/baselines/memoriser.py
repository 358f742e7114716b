"""Memorisers: return training maps. Every distributional metric passes; the memorisation check must not."""

from __future__ import annotations

import numpy as np

from .. import stats  # loaded on first use
from ..data import MapSet


class Memoriser:
    """Returns randomly chosen training maps, unchanged."""

    name = "memoriser"
    description = "returns training maps unchanged (must be caught by the memorisation check)"
    symmetries = False
    noise = 0.0  # in units of the training maps' σ

    def __init__(self, train: MapSet):
        self.train = train
        self.sigma = float(np.std(train.get(slice(0, min(len(train), 256)))))

    @classmethod
    def fit(cls, train: MapSet, *, seed: int = 0):
        return cls(train)

    @property
    def n_parameters(self) -> int:
        """Every pixel of every training map: what it stores is what it returns."""
        return len(self.train) * self.train.npix**2

    def sample(self, n: int, *, seed: int, device: str = "cpu") -> np.ndarray:
        rng = np.random.default_rng(seed)
        idx = rng.choice(len(self.train), size=n, replace=n > len(self.train))
        maps = self.train.get(idx)
        if self.symmetries:
            ks = rng.integers(0, 8, size=n)
            maps = np.stack([np.ascontiguousarray(stats.symmetry(m, int(k))) for m, k in zip(maps, ks)])
        if self.noise:
            maps = maps + rng.standard_normal(maps.shape).astype(np.float32) * (self.noise * self.sigma)
        return maps.astype(np.float32)


class MemoriserD4(Memoriser):
    """Training maps under a random symmetry of the square, plus noise of 1% of σ."""

    name = "memoriser-d4"
    description = "training maps rotated/flipped with 1% noise (caught only by the symmetry-aware memorisation check)"
    symmetries = True
    noise = 0.01


class MemoriserShifted(Memoriser):
    """Training maps shifted cyclically by a random offset (1 … N−1 pixels on each axis).

    Every statistic that is blind to position (pixel KS, |FFT|², periodic Minkowski and peak stencils) is exactly
    the same as for the training maps, so only a translation-aware memorisation check can catch it."""

    name = "memoriser-shifted"
    description = (
        "training maps shifted cyclically by random offsets (caught only by the translation-aware memorisation check)"
    )

    def sample(self, n: int, *, seed: int, device: str = "cpu") -> np.ndarray:
        maps = super().sample(n, seed=seed, device=device)
        rng = np.random.default_rng([seed, 1])
        shifts = rng.integers(1, maps.shape[-1], size=(n, 2))
        return np.stack([np.roll(m, (int(a), int(b)), axis=(0, 1)) for m, (a, b) in zip(maps, shifts)])


class Collapsed:
    """Mode collapse: fresh lognormal maps, but only 4 distinct ones, shown under random symmetries.

    The known flaw it reveals: too little variety. The power-spectrum and Minkowski covariance summaries
    (std ratio, χ²) must flag it, while a single map looks perfectly real.
    """

    name = "collapsed"
    description = "mode collapse: 4 distinct lognormal maps under random symmetries (too little variety)"
    distinct = 4

    def __init__(self, base):
        self.base = base

    @property
    def n_parameters(self) -> int | None:
        return getattr(self.base, "n_parameters", None)

    @classmethod
    def fit(cls, train: MapSet, *, seed: int = 0):
        from .lognormal import Lognormal

        return cls(Lognormal.fit(train, seed=seed))

    def sample(self, n: int, *, seed: int, device: str = "cpu") -> np.ndarray:
        modes = self.base.sample(self.distinct, seed=seed, device=device)
        rng = np.random.default_rng(seed)
        pick, ks = rng.integers(0, self.distinct, size=n), rng.integers(0, 8, size=n)
        return np.stack([np.ascontiguousarray(stats.symmetry(modes[i], int(k))) for i, k in zip(pick, ks)]).astype(
            np.float32
        )
