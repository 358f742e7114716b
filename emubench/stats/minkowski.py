"""Minkowski functionals V0, V1, V2 as LensTools 1.2 ``ConvergenceMap.minkowskiFunctionals`` defines them.

Derivatives are periodic central differences in pixel units; the Hessian is the central difference applied
twice (a 5-pixel-wide stencil: hxx = (m[x+2] + m[x−2] − 2m)/4). ``thresholds`` are bin edges; with
``norm=True`` they are in units of each map's σ (ddof=0) and applied to the raw κ. V0 is the fraction of
pixels with κ >= (t_i + t_{i+1})·σ/2; V1 and V2 sum |∇κ|/4 and the curvature integrand over pixels with
t_i·σ <= κ < t_{i+1}·σ and divide by N²·(t_{i+1} − t_i), so with ``norm=True`` V1, V2 are σ × the standard
functionals (as in LensTools).

Speed: maps are processed a few at a time so that every intermediate stays in the CPU cache, and the
derivatives are slices of one circularly padded copy instead of rolled copies.
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F

from ._backend import as_maps, edges_tensor, map_sigma, midpoints, out

CHUNK = 2  # maps per pass on CPU (cache-sized); GPUs take everything at once


def _padded(m: torch.Tensor, p: int) -> torch.Tensor:
    return F.pad(m[:, None], (p, p, p, p), mode="circular")[:, 0]


def gradient(m: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(gx, gy): periodic central differences along columns (x, axis −1) and rows (y, axis −2), κ per pixel."""
    p = _padded(m, 1)
    return (p[:, 1:-1, 2:] - p[:, 1:-1, :-2]) / 2, (p[:, 2:, 1:-1] - p[:, :-2, 1:-1]) / 2


def derivatives(m: torch.Tensor):
    """(gx, gy, hxx, hyy, hxy) of maps (N, H, W): the Hessian as the central difference of the gradient."""
    p = _padded(m, 2)
    gxp = (p[:, 1:-1, 2:] - p[:, 1:-1, :-2]) / 2   # gx on a 1-pixel margin, (N, H+2, W+2)
    gyp = (p[:, 2:, 1:-1] - p[:, :-2, 1:-1]) / 2
    gx, gy = gxp[:, 1:-1, 1:-1], gyp[:, 1:-1, 1:-1]
    hxx = (gxp[:, 1:-1, 2:] - gxp[:, 1:-1, :-2]) / 2
    hyy = (gyp[:, 2:, 1:-1] - gyp[:, :-2, 1:-1]) / 2
    hxy = (gxp[:, 2:, 1:-1] - gxp[:, :-2, 1:-1]) / 2
    return gx, gy, hxx, hyy, hxy


def _chunk(t: torch.Tensor, edges: torch.Tensor, sigma: torch.Tensor):
    n, nb = t.shape[0], len(edges) - 1
    gx, gy, hxx, hyy, hxy = derivatives(t)
    grad2 = gx * gx + gy * gy
    v1_density = torch.sqrt(grad2) / 4
    nonzero = grad2 > 0
    v2_density = torch.where(
        nonzero,
        (2 * gx * gy * hxy - gx * gx * hyy - gy * gy * hxx) / torch.where(nonzero, grad2, 1.0) / (2 * math.pi),
        (2 * hxy - hxx - hyy) / (4 * math.pi),
    )
    # One search against interleaved boundaries [t0·σ, m0, t1·σ, m1, …, t_nb·σ] with m_i = (t_i + t_{i+1})·σ/2:
    # j boundaries <= κ puts κ in bin (j−1)//2 and above midpoint i when j >= 2i + 2.
    lo = edges[None, :-1] * sigma
    mid = (edges[None, :-1] + edges[None, 1:]) * sigma / 2
    bounds = torch.stack([lo, mid], dim=2).reshape(n, 2 * nb)
    bounds = torch.cat([bounds, edges[None, -1:] * sigma], dim=1).contiguous()
    flat = t.reshape(n, -1)
    j = torch.searchsorted(bounds, flat.contiguous(), right=True)
    offset = torch.arange(n, device=t.device)[:, None]
    counts = torch.bincount((j + offset * (2 * nb + 2)).reshape(-1), minlength=n * (2 * nb + 2)).reshape(n, 2 * nb + 2)
    k = torch.where((j >= 1) & (j <= 2 * nb), (j - 1) // 2, nb)  # nb: outside every bin
    key = (k + offset * (nb + 1)).reshape(-1)
    size = n * (nb + 1)
    v1 = torch.bincount(key, weights=v1_density.reshape(-1), minlength=size).reshape(n, nb + 1)[:, :nb]
    v2 = torch.bincount(key, weights=v2_density.reshape(-1), minlength=size).reshape(n, nb + 1)[:, :nb]
    above = torch.flip(torch.cumsum(torch.flip(counts, [1]), 1), [1])  # above[:, j] = pixels with ≥ j boundaries below
    v0 = above[:, 2 : 2 * nb + 1 : 2].to(torch.float64)
    return v0, v1, v2


def minkowski(maps: Any, thresholds: Any, norm: bool = False):
    """Minkowski functionals of each map.

    maps: (N, H, W) or (H, W); thresholds: (B+1,) bin edges in κ (or in σ units if ``norm``).
    Returns (nu (B,) midpoints, V0 (N, B), V1 (N, B), V2 (N, B)); lengths in pixels.
    """
    t, is_numpy, single = as_maps(maps)
    edges = edges_tensor(thresholds, t)
    n_pix = t.shape[-1] * t.shape[-2]
    width = (edges[1:] - edges[:-1])[None, :]
    step = t.shape[0] if t.is_cuda else CHUNK
    parts = [_chunk(t[s : s + step], edges, map_sigma(t[s : s + step], norm)) for s in range(0, t.shape[0], step)]
    v0, v1, v2 = (torch.cat([p[i] for p in parts]) for i in range(3))
    return (midpoints(edges), out(v0 / n_pix, is_numpy, single), out(v1 / (n_pix * width), is_numpy, single),
            out(v2 / (n_pix * width), is_numpy, single))
