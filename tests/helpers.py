"""Shared helpers of the tests (not fixtures)."""

import numpy as np


def gaussian_field(n: int, npix: int, slope: float = -2.0, seed: int = 0, smooth: float | None = None) -> np.ndarray:
    """Periodic Gaussian random fields (unit variance), (n, npix, npix): power ∝ k^slope, or white noise
    smoothed by a Gaussian of ``smooth`` pixels."""
    rng = np.random.default_rng(seed)
    k = np.sqrt(np.fft.fftfreq(npix)[:, None] ** 2 + np.fft.fftfreq(npix)[None, :] ** 2)
    with np.errstate(divide="ignore"):
        amp = np.exp(-0.5 * (2 * np.pi * k * smooth) ** 2) if smooth else np.where(k > 0, k ** (slope / 2), 0.0)
    f = np.fft.ifft2(np.fft.fft2(rng.standard_normal((n, npix, npix))) * amp).real
    return f / f.std()
