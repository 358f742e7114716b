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

CHUNK_PIXELS = 4 * 256 * 256  # pixels per FFT batch on CPU (their transforms stay in the L2 cache)
GPU_CHUNK = 512  # on a GPU: large batches, bounded memory


def mode_ell(npix: int, side_deg: float, device=None) -> torch.Tensor:
    """ℓ of every rfft2 mode of an npix² map of side ``side_deg`` degrees, shape (npix, npix//2 + 1)."""
    lpix = 360.0 / side_deg
    i = torch.arange(npix, device=device, dtype=torch.float64)
    lx = torch.minimum(i, npix - i) * lpix
    ly = torch.arange(npix // 2 + 1, device=device, dtype=torch.float64) * lpix
    return torch.sqrt(lx[:, None] ** 2 + ly[None, :] ** 2)


MIN_MODES = 16  # rfft2 coefficients a bin must hold; fewer give a C_ℓ too noisy for a covariance-based χ²


def mode_counts(edges: np.ndarray, npix: int, side_deg: float) -> np.ndarray:
    """rfft2 coefficients of an npix² map in each bin (edges[k], edges[k+1]] (LensTools' rule), shape (B,)."""
    ell = mode_ell(npix, side_deg).reshape(-1).numpy()
    k = np.searchsorted(np.asarray(edges, dtype=np.float64), ell, side="left") - 1
    return np.bincount(k[(k >= 0) & (k < len(edges) - 1)], minlength=len(edges) - 1)


def default_ell_edges(npix: int, side_deg: float, nbins: int = 20, min_modes: int = MIN_MODES) -> np.ndarray:
    """Log-spaced ℓ bin edges from 1.5·ℓ_fund to the Nyquist ℓ, at most ``nbins`` bins of ≥ ``min_modes`` modes.

    ℓ_fund = 360°/side_deg. The first edge sits at 1.5·ℓ_fund, halfway between the modes at √2·ℓ_fund and
    2·ℓ_fund, so which modes enter the first bin does not hang on rounding (an edge at exactly 2·ℓ_fund kept
    those modes only because it landed 2e-13 below them). Bins holding fewer than ``min_modes`` rfft2
    coefficients (the low-ℓ end of small maps) are merged into the next bin, never dropped, so every mode
    from 1.5·ℓ_fund to Nyquist is counted; the last bin absorbs a short tail. ``min_modes=0`` keeps all
    ``nbins`` log bins, empty ones included.
    """
    lfun = 360.0 / side_deg
    edges = np.logspace(math.log10(1.5 * lfun), math.log10(lfun * npix / 2), nbins + 1)
    edges[-1] = lfun * npix / 2  # exactly the Nyquist modes' ℓ, so rounding does not drop them
    if min_modes <= 0:
        return edges
    counts = mode_counts(edges, npix, side_deg)
    keep, acc = [edges[0]], 0
    for k in range(nbins):
        acc += counts[k]
        if acc >= min_modes:
            keep.append(edges[k + 1])
            acc = 0
    if acc and len(keep) > 1:  # a short tail joins the last complete bin
        keep[-1] = edges[-1]
    elif len(keep) == 1:
        keep.append(edges[-1])
    return np.asarray(keep)


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
    step = GPU_CHUNK if t.is_cuda else max(1, CHUNK_PIXELS // (n * n))
    sums = []
    for s in range(0, t.shape[0], step):
        f = torch.view_as_real(torch.fft.rfft2(t[s : s + step].to(torch.float64))).reshape(-1, 2 * ell.numel())
        acc = f.new_zeros(f.shape[0], nb + 1).scatter_add_(1, k2.expand(f.shape[0], -1), f.square_())
        sums.append(acc[:, :nb])
    sums = torch.cat(sums)
    side_rad = math.radians(side_deg)
    p = torch.where(counts > 0, sums / counts.clamp(min=1), torch.zeros_like(sums)) * (side_rad / n**2) ** 2
    return midpoints(edges), out(p, is_numpy, single)
