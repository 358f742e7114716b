"""Minkowski functionals V0, V1, V2 as LensTools 1.2 ``ConvergenceMap.minkowskiFunctionals`` defines them.

Derivatives are periodic central differences in pixel units; the Hessian is the central difference applied
twice (a 5-pixel-wide stencil: hxx = (m[x+2] + m[x−2] − 2m)/4). ``thresholds`` are bin edges; with
``norm=True`` they are in units of each map's σ (ddof=0) and applied to the raw κ. V0 is the fraction of
pixels with κ >= (t_i + t_{i+1})·σ/2; V1 and V2 sum |∇κ|/4 and the curvature integrand over pixels with
t_i·σ <= κ < t_{i+1}·σ and divide by N²·(t_{i+1} − t_i), so with ``norm=True`` V1, V2 are σ × the standard
functionals (as in LensTools).

Speed: maps are processed a few at a time so that intermediates stay in the CPU caches; the derivatives
are slices of one circularly padded float64 copy; equal-width thresholds are located by arithmetic, with a
binary search only for the pixels next to a boundary; the sums per bin are scatter-adds over row blocks
(parallel on CPU); constant factors are applied to the binned sums, not to every pixel.
"""

from __future__ import annotations

import math
from typing import Any

import torch

from ._backend import as_maps, edges_tensor, map_sigma, midpoints, out

CHUNK_PIXELS = 2 * 256 * 256  # pixels per pass on CPU (cache-sized: two 256² maps, 32 maps of 64²)
# maps per pass on a GPU: enough to fill it, while a dozen float64 temporaries of 256² maps stay near 2 GB
GPU_CHUNK = 256


def _padded(m: torch.Tensor, p: int, dtype: torch.dtype | None = None) -> torch.Tensor:
    """Periodic padding by ``p`` pixels on every side, (N, H+2p, W+2p), written in one pass (converting to
    ``dtype`` on the way)."""
    n, h, w = m.shape
    out = m.new_empty(n, h + 2 * p, w + 2 * p, dtype=dtype)
    out[:, p:-p, p:-p] = m
    out[:, p:-p, :p], out[:, p:-p, -p:] = m[:, :, -p:], m[:, :, :p]
    out[:, :p], out[:, -p:] = out[:, h : h + p], out[:, p : 2 * p]  # rows last, so the corners wrap too
    return out


def gradient(m: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(gx, gy): periodic central differences along columns (x, axis −1) and rows (y, axis −2), κ per pixel."""
    p = _padded(m, 1)
    return (p[:, 1:-1, 2:] - p[:, 1:-1, :-2]) / 2, (p[:, 2:, 1:-1] - p[:, :-2, 1:-1]) / 2


class _Boundaries:
    """The thresholds of every map, prepared once: the interleaved boundaries [t0·σ, m0, t1·σ, m1, …, t_nb·σ]
    with m_i = (t_i + t_{i+1})·σ/2 (V0's thresholds), as (N, 2 nb + 1).

    Pixels are located by j, the number of boundaries <= κ: κ lies in bin (j − 1)//2 and above midpoint i
    when j >= 2i + 2.
    """

    # A pixel's position q (below) nearer than EPS to an integer is located by binary search instead.
    EPS = 1e-6

    def __init__(self, edges: torch.Tensor, sigma: torch.Tensor):
        n, nb = sigma.shape[0], len(edges) - 1
        self.nb = nb
        lo = edges[None, :-1] * sigma
        mid = (edges[None, :-1] + edges[None, 1:]) * sigma / 2
        self.bounds = torch.cat([torch.stack([lo, mid], dim=2).reshape(n, 2 * nb), edges[None, -1:] * sigma], dim=1)
        # Equal-width bins (the usual linspace) put boundary i at q = i + 1 on the scale q = (κ − b0)/h + 1,
        # h = width·σ/2, so j = floor(q) clamped to [0, 2 nb + 1], by arithmetic instead of a binary search.
        # Exactness: q is computed by the same rounded multiply-add for pixels and boundaries, with an error
        # of a few ulps of q (≪ EPS); where the computed boundaries fall within DEV of i + 1, a pixel whose q
        # is farther than EPS > DEV + ulps from every integer lies strictly between two boundaries. The rare
        # pixels nearer to an integer (on or next to a boundary) get the binary search. Unequal widths, or
        # boundaries that rounding moved by more than EPS/10, take the binary search for every pixel.
        self.scale = 2 / ((edges[1] - edges[0]) * sigma)
        self.shift = 1 - self.bounds[:, :1] * self.scale
        grid = torch.addcmul(self.shift, self.bounds, self.scale)
        dev = (grid - torch.arange(1, 2 * nb + 2, dtype=grid.dtype, device=grid.device)).abs().max()
        self.arithmetic = bool(
            torch.isfinite(self.scale).all() and torch.isfinite(self.shift).all() and dev < self.EPS / 10
        )

    def locate(self, flat: torch.Tensor, rows: slice) -> torch.Tensor:
        """j (n, M) for the pixels ``flat`` (n, M) of the maps ``rows`` (one chunk)."""
        if not self.arithmetic:
            return torch.searchsorted(
                self.bounds[rows].contiguous(), flat.to(self.bounds.dtype).contiguous(), right=True
            )
        top = 2 * self.nb + 1
        q = torch.addcmul(self.shift[rows], flat, self.scale[rows]).nan_to_num_(nan=math.inf)
        # q < 1 is below every boundary (j = 0), q >= top is above all (j = top); clamped half a step inside,
        # truncation is the floor, and clamped pixels are half a step from an integer, so never rechecked.
        # NaN went to +inf, as a binary search puts NaN after every boundary.
        q.clamp_(0.5, top + 0.5)
        j = q.to(torch.long)
        near = torch.frac_(q).sub_(0.5).abs_() > 0.5 - self.EPS
        if bool(near.any()):
            m, k = near.nonzero(as_tuple=True)
            j[m, k] = torch.searchsorted(self.bounds[rows][m], flat[m, k, None].to(self.bounds.dtype), right=True)[:, 0]
        return j


# scatter_add_ runs in parallel over rows: each map's pixels are binned in this many row-blocks
BLOCKS = 8


def _chunk(t: torch.Tensor, where: _Boundaries, rows: slice):
    """V0, V1, V2 sums of the maps ``t`` (n, H, W), float32 or float64; the arithmetic is float64."""
    n, nb = t.shape[0], where.nb
    # The stencils without their 1/2 factors: dx = 2·gx, hxx = 4·∂²κ/∂x², and so on. Powers of two scale
    # exactly in floating point; the remaining constants are applied to the binned sums, not to every pixel.
    p = _padded(t, 2, torch.float64)
    dx = p[:, 1:-1, 2:] - p[:, 1:-1, :-2]  # on a 1-pixel margin, (N, H+2, W+2)
    dy = p[:, 2:, 1:-1] - p[:, :-2, 1:-1]
    gx, gy = dx[:, 1:-1, 1:-1], dy[:, 1:-1, 1:-1]
    hxx = dx[:, 1:-1, 2:] - dx[:, 1:-1, :-2]
    hyy = dy[:, 2:, 1:-1] - dy[:, :-2, 1:-1]
    hxy = dx[:, 2:, 1:-1] - dx[:, :-2, 1:-1]
    gx2, gy2 = gx * gx, gy * gy
    g2 = gx2 + gy2  # 4 |∇κ|²
    grad = torch.sqrt(g2)  # 2 |∇κ|; V1's integrand |∇κ|/4 = grad/8, scaled after summing
    # curv = −16 (2 gx gy hxy − gx² hyy − gy² hxx) / (4 |∇κ|²) = −8π × V2's integrand, in three fused passes
    curv = gx2.mul_(hyy).addcmul_(gy2, hxx).addcmul_(gx * gy, hxy, value=-2).div_(g2)
    # Sums per (map, j), j the number of boundaries <= κ (0 … 2 nb + 1); bin i collects j = 2i + 1 and 2i + 2.
    blocks = math.gcd(BLOCKS, t.shape[1] * t.shape[2])
    j = where.locate(t.reshape(n, -1), rows).reshape(n * blocks, -1)
    width = 2 * nb + 2

    def per_j(values: torch.Tensor) -> torch.Tensor:
        acc = p.new_zeros(n * blocks, width).scatter_add_(1, j, values.reshape(n * blocks, -1))
        return acc.reshape(n, blocks, width).sum(1)

    def binned(values: torch.Tensor) -> torch.Tensor:
        s = per_j(values)
        return s[:, 1 : 2 * nb + 1 : 2] + s[:, 2 : 2 * nb + 2 : 2]

    counts = per_j(p.new_ones(1, 1).expand(j.shape))
    v1 = binned(grad) / 8
    v2 = binned(curv)
    if bool(torch.isnan(v2).any()):
        # ∇κ = 0 somewhere in a bin (0/0 above): there LensTools takes the limit (2 hxy − hxx − hyy) / 4π
        zero = g2 == 0
        curv[zero] = ((hxx + hyy - 2 * hxy) / 2)[zero]
        v2 = binned(curv)
    v2 = v2 / (-8 * math.pi)
    above = torch.flip(torch.cumsum(torch.flip(counts, [1]), 1), [1])  # above[:, j] = pixels with ≥ j boundaries below
    v0 = above[:, 2 : 2 * nb + 1 : 2]
    return v0, v1, v2


def minkowski(maps: Any, thresholds: Any, norm: bool = False):
    """Minkowski functionals of each map.

    maps: (N, H, W) or (H, W); thresholds: (B+1,) bin edges in κ (or in σ units if ``norm``).
    Returns (nu (B,) midpoints, V0 (N, B), V1 (N, B), V2 (N, B)); lengths in pixels.
    """
    t, is_numpy, single = as_maps(maps, dtype=None)
    edges = edges_tensor(thresholds, t)
    n_pix = t.shape[-1] * t.shape[-2]
    width = (edges[1:] - edges[:-1])[None, :]
    step = GPU_CHUNK if t.is_cuda else max(1, CHUNK_PIXELS // n_pix)
    sigma = map_sigma(t, norm)
    where = _Boundaries(edges, sigma)
    parts = [_chunk(t[s : s + step], where, slice(s, s + step)) for s in range(0, t.shape[0], step)]
    v0, v1, v2 = (torch.cat([p[i] for p in parts]) for i in range(3))
    return (
        midpoints(edges),
        out(v0 / n_pix, is_numpy, single),
        out(v1 / (n_pix * width), is_numpy, single),
        out(v2 / (n_pix * width), is_numpy, single),
    )
