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
        self.centre = thetas.mean(0)
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
        self.values = {k: np.stack([_forward(k, s[k]) for s in states]) for k in states[0]}
        self._interpolators: dict[str, Any] | None = None  # one thin-plate spline per state entry, built on use
        self._cache: dict[tuple[float, ...], Any] = {}

    @property
    def n_parameters(self) -> int | None:
        """The fits at every training cosmology together (the interpolation between them adds none)."""
        sizes = [getattr(f, "n_parameters", None) for f in self.fits]
        return None if None in sizes else int(sum(sizes))

    def at(self, theta: np.ndarray) -> Any:
        """The base model at parameters ``theta`` (P,)."""
        theta = np.asarray(theta, dtype=np.float64) * self.factor
        key = tuple(np.round(theta, 12))
        if key not in self._cache:
            x = (self.thetas - self.centre) / self.scale
            q = (theta - self.centre) / self.scale
            if self.mode == "nearest":
                self._cache[key] = self.fits[int(np.argmin(((x - q) ** 2).sum(1)))]
            else:
                if self._interpolators is None:
                    from scipy.interpolate import RBFInterpolator

                    self._interpolators = {
                        k: RBFInterpolator(x, v.reshape(len(v), -1), kernel="thin_plate_spline", degree=1)
                        for k, v in self.values.items()
                    }
                state = {
                    k: _inverse(k, f(q[None])[0].reshape(self.values[k].shape[1:]))
                    for k, f in self._interpolators.items()
                }
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
        out = None
        for i, theta in enumerate(np.unique(params, axis=0)):
            rows = np.flatnonzero((params == theta).all(1))
            maps = self.at(theta).sample(len(rows), seed=seed * 1009 + i, device=device)
            out = np.empty((n, *maps.shape[1:]), np.float32) if out is None else out
            out[rows] = maps
        return out


def _forward(key: str, value: Any) -> np.ndarray:
    """State entries named ``amp`` are interpolated as ln(amp²); the rest as they are."""
    value = np.asarray(value, dtype=np.float64)
    return np.log(value**2 + LOG_FLOOR) if key == "amp" else value


def _inverse(key: str, value: np.ndarray) -> Any:
    if key == "amp":
        return np.sqrt(np.exp(value))
    return float(value) if value.ndim == 0 else value
