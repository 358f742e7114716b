"""Shifted lognormal fields fitted to the training split's power spectrum, variance and skewness.

A strong baseline: close on the spectrum and the one-point pdf by construction; the higher-order
morphology (Minkowski functionals, peaks) is only approximately right.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from scipy.optimize import brentq

from ..data import MapSet
from ..data.lognormal import gaussian_amplitude
from .grf import mean_power


def lognormal_shift(variance: float, skewness: float) -> float:
    """λ of κ = λ(exp(g − σ_g²/2) − 1) with the given variance and skewness.

    For this field, skewness = (e^{σ_g²} + 2) √(e^{σ_g²} − 1) and variance = λ² (e^{σ_g²} − 1).
    """
    skewness = max(skewness, 1e-3)
    f = lambda s2: (math.exp(s2) + 2) * math.sqrt(math.expm1(s2)) - skewness  # noqa: E731
    s2 = brentq(f, 1e-10, 20.0)
    return math.sqrt(variance / math.expm1(s2))


class Lognormal:
    """Shifted lognormal fields with the training maps' 2-D power, variance and skewness (periodic on the map grid)."""

    name = "lognormal"
    description = "shifted lognormal fields fitted to the training maps' spectrum, variance and skewness"

    def __init__(self, amp: np.ndarray, var_g: float, lam: float, mean: float):
        self.amp, self.var_g, self.lam, self.mean = amp, var_g, lam, mean

    @classmethod
    def fit(cls, train: MapSet, *, seed: int = 0) -> "Lognormal":
        power, mean, sample = mean_power(train)
        d = sample - mean
        var = float((d**2).mean())
        skew = float((d**3).mean() / var**1.5)
        lam = lognormal_shift(var, skew)
        h = train.npix
        omega_pix = math.radians(train.side_deg / h) ** 2
        # |FFT|² = C N⁴/A  ->  C = |FFT|² Ω_pix / N²
        amp, var_g = gaussian_amplitude(power * omega_pix / h**2, omega_pix, lam)
        return cls(amp, var_g, lam, mean)

    def sample(self, n: int, *, seed: int, device: str = "cpu") -> np.ndarray:
        from ..data.lognormal import lognormal_fields

        gen = torch.Generator(device=device).manual_seed(seed)
        out = []
        while len(out) < n:
            out += [f.cpu().numpy() + self.mean for f in lognormal_fields(self.amp, self.var_g, self.lam, gen, device)]
        return np.stack(out[:n]).astype(np.float32)
