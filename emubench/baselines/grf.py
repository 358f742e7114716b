"""Gaussian random fields with the training maps' measured 2-D power and mean.

Passes the power spectrum by construction; fails everything non-Gaussian (pixel pdf, Minkowski, peaks).
"""

from __future__ import annotations

import numpy as np

from ..data import MapSet
from . import generator
from .conditional import ConditionalFit


def mean_power(train: MapSet, max_maps: int = 2048, chunk: int = 256) -> tuple[np.ndarray, float, np.ndarray]:
    """(mean |FFT|² of mean-subtracted maps (H, W), global mean κ, sample of maps used) from the training split."""
    n = min(len(train), max_maps)
    acc, mean, used = None, 0.0, None
    for s in range(0, n, chunk):
        m = train.get(slice(s, min(n, s + chunk))).astype(np.float64)
        mean += m.sum()
        used = m if used is None else used
    mean /= n * train.npix**2
    for s in range(0, n, chunk):
        m = train.get(slice(s, min(n, s + chunk))).astype(np.float64) - mean
        p = (np.abs(np.fft.fft2(m)) ** 2).sum(0)
        acc = p if acc is None else acc + p
    return acc / n, float(mean), used


class GRF:
    """Gaussian random fields with the training split's mean 2-D power spectrum and mean."""

    name = "grf"
    description = (
        "Gaussian random fields with the training maps' power spectrum and mean (fails non-Gaussian statistics)"
    )

    def __init__(self, power2d: np.ndarray, mean: float):
        self.amp = np.sqrt(power2d)
        self.mean = mean

    @property
    def n_parameters(self) -> int:
        """The fitted 2-D spectrum's amplitudes and the mean."""
        return int(self.amp.size) + 1

    @classmethod
    def fit(cls, train: MapSet, *, seed: int = 0) -> GRF | ConditionalFit:
        """Fitted on ``train``; on maps of several cosmologies, at each and interpolated between them."""
        if len(train.cosmologies()) > 1:
            return ConditionalFit(cls, train, seed=seed)
        p, mean, _ = mean_power(train)
        return cls(p, mean)

    def state(self) -> dict:
        """What a fit is (for interpolating fits across cosmologies)."""
        return {"amp": self.amp, "mean": self.mean}

    @classmethod
    def from_state(cls, state: dict) -> GRF:
        return cls(np.asarray(state["amp"]) ** 2, state["mean"])

    def sample(self, n: int, *, seed: int, device: str = "cpu") -> np.ndarray:
        import torch

        gen = generator(seed, self.name, device)
        h = self.amp.shape[0]
        amp = torch.as_tensor(self.amp, dtype=torch.float32, device=device)
        out = []
        for s in range(0, n, 512):
            k = min(512, n - s)
            # fft2 of unit real white noise has E|F|² = N²; scaling by amp/N gives E|F|² = power2d.
            w = torch.fft.fft2(torch.randn((k, h, h), generator=gen, device=device))
            out.append((torch.fft.ifft2(w * amp / h).real + self.mean).cpu().numpy())
        return np.concatenate(out).astype(np.float32)
