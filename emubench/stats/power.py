"""Flat-sky angular power spectrum, as LensTools 1.2 ``ConvergenceMap.powerSpectrum`` defines it.

Unnormalised rfft2 of the map (mean kept, no window), each stored rfft2 coefficient counted once, a mode
in bin k when edges[k] < ℓ <= edges[k+1], P_k = (side_rad / N²)² ⟨|F|²⟩ over the bin, empty bins 0,
ℓ returned as the arithmetic bin midpoints. White noise of variance s² gives s² Ω_pix [rad²].
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch

from ._backend import as_maps, edges_tensor, midpoints, out

CHUNK = 4  # maps per FFT batch on CPU (their transforms stay in the L2 cache)
GPU_CHUNK = 512  # on a GPU: large batches, bounded memory


def mode_ell(npix: int, side_deg: float, device=None) -> torch.Tensor:
    """ℓ of every rfft2 mode of an npix² map of side ``side_deg`` degrees, shape (npix, npix//2 + 1)."""
    lpix = 360.0 / side_deg
    i = torch.arange(npix, device=device, dtype=torch.float64)
    lx = torch.minimum(i, npix - i) * lpix
    ly = torch.arange(npix // 2 + 1, device=device, dtype=torch.float64) * lpix
    return torch.sqrt(lx[:, None] ** 2 + ly[None, :] ** 2)


def default_ell_edges(npix: int, side_deg: float, nbins: int = 20) -> np.ndarray:
    """Log-spaced edges from twice the fundamental mode to the Nyquist ℓ of the map, ``nbins`` bins."""
    lfun = 360.0 / side_deg
    return np.logspace(math.log10(2 * lfun), math.log10(lfun * npix / 2), nbins + 1)


def power_spectrum(maps: Any, side_deg: float, ell_edges: Any) -> tuple[np.ndarray, Any]:
    """Power spectrum of each map.

    maps: (N, H, W) or (H, W) κ, numpy or torch (any device); side_deg: map side in degrees;
    ell_edges: (B+1,) multipole bin edges. Returns (ell (B,) bin midpoints, P (N, B) in rad²);
    P has the input's type (numpy or torch on the input's device).
    """
    t, is_numpy, single = as_maps(maps, dtype=None)
    n = t.shape[-1]
    edges = edges_tensor(ell_edges, t)
    ell = mode_ell(n, side_deg, device=t.device).reshape(-1)
    # bucketize: edges[i-1] < ℓ <= edges[i]  ->  bin i-1 (LensTools' rule); modes outside every bin go to an
    # extra bin nb that is dropped
    nb = len(edges) - 1
    k = torch.bucketize(ell, edges, right=False) - 1
    k = torch.where((k >= 0) & (k < nb), k, nb)
    counts = torch.bincount(k, minlength=nb + 1)[:nb].to(torch.float64)
    # |F|² = re² + im²: both squares of a mode go to its bin, so one scatter sums them (no square root)
    k2 = k.repeat_interleave(2)
    # a few maps at a time on CPU, so the transforms stay in cache; hundreds on a GPU
    step = GPU_CHUNK if t.is_cuda else CHUNK
    sums = []
    for s in range(0, t.shape[0], step):
        f = torch.view_as_real(torch.fft.rfft2(t[s : s + step].to(torch.float64))).reshape(-1, 2 * ell.numel())
        acc = f.new_zeros(f.shape[0], nb + 1).scatter_add_(1, k2.expand(f.shape[0], -1), f.square_())
        sums.append(acc[:, :nb])
    sums = torch.cat(sums)
    side_rad = math.radians(side_deg)
    p = torch.where(counts > 0, sums / counts.clamp(min=1), torch.zeros_like(sums)) * (side_rad / n**2) ** 2
    return midpoints(edges), out(p, is_numpy, single)
