"""Baselines across cosmologies: fitted at every training cosmology, interpolated between them.

A training split with per-map parameters (``MapSet.params``, e.g. (Ωm, σ8)) makes ``grf``, ``lognormal`` and
``lognormal-crops`` conditional: each is fitted on the maps of every training cosmology, and its fitted state
(ln of the 2-D spectral amplitude, the lognormal shift, the mean κ, ...) is interpolated in parameter space
with a thin-plate spline (exact at the training cosmologies, smooth between them, any design: grid or Latin
hypercube). ``baselines.flawed`` builds two baselines with known flaws on the same fits.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..data import MapSet
from ..errors import EmubenchError

LOG_FLOOR = 1e-300  # amplitudes are ≥ 0 (the zero mode is 0): interpolated as ln(amp² + floor)
# Per-cosmology fits by (base class, training maps' content hash and parameters, seed), the last few: fits are
# deterministic in these, and several baselines built on the same base share them within a process.
_FITS: dict[tuple, list] = {}


class ConditionalFit:
    """A per-cosmology fit of ``base`` (a baseline class with ``fit``, ``state`` and ``from_state``; and
    ``fit_each(trains, seed=)`` if it fits several cosmologies faster together).

    parameters: the parameter names; sample(n, seed=, params=): maps at one parameter vector (or one per map).
    ``mode``: "interpolate" (thin-plate spline) or "nearest" (the nearest training cosmology's fit, in units of
    each parameter's spread over the design). ``shift``: a factor applied to the asked parameters first (the
    planted flaw of ``sigma8-biased``)."""

    def __init__(
        self,
        base: type,
        train: MapSet,
        *,
        seed: int = 0,
        name: str | None = None,
        mode: str = "interpolate",
        shift: dict[str, float] | None = None,
    ):
        thetas = train.cosmologies()
        if len(thetas) < 3 and mode == "interpolate":
            raise EmubenchError(f"{base.name}: interpolating across cosmologies needs at least 3, got {len(thetas)}")
        self.name = name or base.name
        self.base, self.mode = base, mode
        self.parameters = tuple(train.param_names)
        self.thetas = thetas
        self.scale = np.where(thetas.std(0) > 0, thetas.std(0), 1.0)  # parameters in units of their spread
        self.factor = np.array([(shift or {}).get(p, 1.0) for p in self.parameters])
        key = (base, train.content_hash(), seed)
        if key not in _FITS:  # nearest-cosmology and sigma8-biased reuse lognormal-crops' fits of the same maps
            subsets = [train.at(theta) for theta in thetas]
            if hasattr(base, "fit_each"):  # a base that fits several cosmologies faster together
                _FITS[key] = base.fit_each(subsets, seed=seed)
            else:
                _FITS[key] = [base.fit(s, seed=seed) for s in subsets]
            while len(_FITS) > 4:
                _FITS.pop(next(iter(_FITS)))
        self.fits = _FITS[key]
        states = [f.state() for f in self.fits]
        self.keys = list(states[0])
        self.values = {k: np.stack([_forward(k, s[k]) for s in states]) for k in self.keys}
        self._cache: dict[tuple[float, ...], Any] = {}

    def at(self, theta: np.ndarray) -> Any:
        """The base model at parameters ``theta`` (P,)."""
        theta = np.asarray(theta, dtype=np.float64) * self.factor
        key = tuple(np.round(theta, 12))
        if key not in self._cache:
            x = (self.thetas - self.thetas.mean(0)) / self.scale
            q = (theta - self.thetas.mean(0)) / self.scale
            if self.mode == "nearest":
                self._cache[key] = self.fits[int(np.argmin(((x - q) ** 2).sum(1)))]
            else:
                from scipy.interpolate import RBFInterpolator

                state = {}
                for k, v in self.values.items():
                    flat = v.reshape(len(v), -1)
                    got = RBFInterpolator(x, flat, kernel="thin_plate_spline", degree=1)(q[None])[0]
                    state[k] = _inverse(k, got.reshape(v.shape[1:]))
                self._cache[key] = self.base.from_state(state)
        return self._cache[key]

    def sample(self, n: int, *, seed: int, device: str = "cpu", params=None) -> np.ndarray:
        if params is None:
            raise EmubenchError(f"model {self.name!r} is conditioned on {', '.join(self.parameters)}: give params")
        params = np.asarray(params, dtype=np.float64)
        if params.ndim == 1:
            return self.at(params).sample(n, seed=seed, device=device)
        if params.shape != (n, len(self.parameters)):
            raise EmubenchError(f"model {self.name!r}: params must be ({len(self.parameters)},) or ({n}, ...)")
        out = np.empty((n, *self.fits[0].sample(1, seed=0).shape[1:]), np.float32)
        for i, theta in enumerate(np.unique(params, axis=0)):
            rows = np.flatnonzero((params == theta).all(1))
            out[rows] = self.at(theta).sample(len(rows), seed=seed * 1009 + i, device=device)
        return out


def _forward(key: str, value: Any) -> np.ndarray:
    """State entries named ``amp`` are interpolated as ln(amp²); the rest as they are."""
    value = np.asarray(value, dtype=np.float64)
    return np.log(value**2 + LOG_FLOOR) if key == "amp" else value


def _inverse(key: str, value: np.ndarray) -> Any:
    if key == "amp":
        return np.sqrt(np.exp(value))
    return float(value) if value.ndim == 0 else value
