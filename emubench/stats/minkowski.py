"""Minkowski functionals V0, V1, V2 as LensTools 1.2 ``ConvergenceMap.minkowskiFunctionals`` defines them.

Derivatives are periodic central differences in pixel units (the Hessian applies the central difference
twice: a 5-point-wide stencil). ``thresholds`` are bin edges; with ``norm=True`` they are in units of each
map's σ (ddof=0) and applied to the raw κ. V0 is the fraction of pixels with κ >= the bin midpoint; V1 and
V2 sum |∇κ|/4 and the curvature integrand over pixels inside the bin and divide by N²·(bin width in
threshold units), so with ``norm=True`` V1, V2 are σ × the standard functionals (as in LensTools).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch

from ._backend import as_maps, binned_sum, edges_tensor, map_sigma, midpoints, out, threshold_bins


def _shift(m: torch.Tensor, dy: int, dx: int) -> torch.Tensor:
    """m[y+dy, x+dx] with periodic wrap (y = row, axis -2; x = column, axis -1)."""
    return torch.roll(m, shifts=(-dy, -dx), dims=(-2, -1))


def gradient(m: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(gx, gy): central differences along columns (x) and rows (y), κ per pixel."""
    gx = (_shift(m, 0, 1) - _shift(m, 0, -1)) / 2
    gy = (_shift(m, 1, 0) - _shift(m, -1, 0)) / 2
    return gx, gy


def hessian(m: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(hxx, hyy, hxy): the central difference applied twice, κ per pixel²."""
    hxx = (_shift(m, 0, 2) + _shift(m, 0, -2) - 2 * m) / 4
    hyy = (_shift(m, 2, 0) + _shift(m, -2, 0) - 2 * m) / 4
    hxy = (_shift(m, 1, 1) + _shift(m, -1, -1) - _shift(m, 1, -1) - _shift(m, -1, 1)) / 4
    return hxx, hyy, hxy


def minkowski(maps: Any, thresholds: Any, norm: bool = False):
    """Minkowski functionals of each map.

    maps: (N, H, W) or (H, W); thresholds: (B+1,) bin edges in κ (or in σ units if ``norm``).
    Returns (nu (B,) midpoints, V0 (N, B), V1 (N, B), V2 (N, B)); V1, V2 per pixel length.
    """
    t, is_numpy, single = as_maps(maps)
    edges = edges_tensor(thresholds, t)
    nb = len(edges) - 1
    n_pix = t.shape[-1] * t.shape[-2]
    sigma = map_sigma(t, norm)
    gx, gy = gradient(t)
    hxx, hyy, hxy = hessian(t)
    grad2 = gx**2 + gy**2
    v1_density = torch.sqrt(grad2) / 4
    safe = torch.where(grad2 > 0, grad2, torch.ones_like(grad2))
    v2_density = torch.where(
        grad2 > 0,
        (2 * gx * gy * hxy - gx**2 * hyy - gy**2 * hxx) / safe / (2 * math.pi),
        (2 * hxy - hxx - hyy) / (4 * math.pi),
    )
    flat = t.reshape(t.shape[0], -1)
    idx = threshold_bins(flat, edges, sigma)
    width = (edges[1:] - edges[:-1])[None, :]
    v1 = binned_sum(v1_density.reshape(t.shape[0], -1), idx, nb) / (n_pix * width)
    v2 = binned_sum(v2_density.reshape(t.shape[0], -1), idx, nb) / (n_pix * width)
    # V0: fraction of pixels with κ >= midpoint·σ; count pixels above each midpoint via a reverse cumsum.
    mids = (0.5 * (edges[:-1] + edges[1:]))[None, :] * sigma
    above = torch.searchsorted(mids.contiguous(), flat.contiguous(), right=True)  # number of midpoints <= κ
    hist = torch.zeros(t.shape[0], nb + 1, dtype=torch.float64, device=t.device)
    hist.scatter_add_(1, above, torch.ones_like(flat))
    v0 = torch.flip(torch.cumsum(torch.flip(hist[:, 1:], [1]), 1), [1]) / n_pix
    return (midpoints(edges), out(v0, is_numpy, single), out(v1, is_numpy, single), out(v2, is_numpy, single))
