"""Invertible pixel transforms between κ and the units a model trains in.

Models may train in transformed units; every score is computed in κ after ``inverse``. A transform is a class
registered by name in ``TRANSFORMS`` (a run's manifest stores the name and parameters) with ``forward`` and
``inverse`` working on numpy arrays or torch tensors alike.
"""

from __future__ import annotations

from typing import Any

from ..errors import EmubenchError


class Identity:
    """κ unchanged."""

    name = "identity"

    def forward(self, x: Any) -> Any:
        return x

    def inverse(self, s: Any) -> Any:
        return s


class CosmoGAN:
    """CosmoGAN's s = 2x/(x + a) − 1 with x = κ + shift (a = 4, shift = 0 as in CosmoGAN), divided by ``scale``.

    Maps x ∈ [0, ∞) onto [−1, 1), so a tanh generator covers it; inverse x = a(1 + s)/(1 − s).
    A positive ``shift`` (e.g. the lognormal λ) brings negative κ into range. ``scale`` (1 for CosmoGAN) widens
    the spread of the values for a model that wants unit-sized data (a diffusion model's noise is of unit
    variance): the transform's range is then [−1/scale, 1/scale).
    """

    name = "cosmogan"

    def __init__(self, a: float = 4.0, shift: float = 0.0, scale: float = 1.0):
        if a <= 0 or scale <= 0:
            raise EmubenchError(f"cosmogan transform needs a > 0 and scale > 0, got a={a}, scale={scale}")
        self.a, self.shift, self.scale = float(a), float(shift), float(scale)

    def forward(self, x: Any) -> Any:
        x = x + self.shift
        s = 2 * x / (x + self.a) - 1
        return s if self.scale == 1.0 else s / self.scale

    def inverse(self, s: Any) -> Any:
        if self.scale != 1.0:
            s = s * self.scale
        return self.a * (1 + s) / (1 - s) - self.shift


TRANSFORMS = {t.name: t for t in (Identity, CosmoGAN)}


def get_transform(name: str, **kwargs) -> Any:
    """The pixel transform ``name`` ("cosmogan": s = 2x/(x + a) − 1 with x = κ + shift; "identity") with its
    parameters; ``forward(κ)`` and ``inverse(s)`` work on numpy arrays and torch tensors alike."""
    if name not in TRANSFORMS:
        raise EmubenchError(f"unknown pixel transform {name!r} (known: {', '.join(TRANSFORMS)})")
    return TRANSFORMS[name](**kwargs)
