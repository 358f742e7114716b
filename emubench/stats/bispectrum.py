"""Flat-sky binned bispectrum, as LensTools 1.2 ``ConvergenceMap.bispectrum`` defines it.

Unnormalised rfft2 F of the map (mean kept, no window). Each stored rfft2 coefficient k1 = (kx1, ky1) with
ℓ1 = |k1|·360°/side below the last edge is the first leg of one triangle; the second leg k2 is

- ``equilateral``: k1 turned by 120°, each component truncated towards zero to an integer (C's ``(int)``),
  the k1 with kx1 < 0 and ky1 < kx1·tan 120° left out;
- ``folded``: −k1·ratio, each component truncated towards zero (ratio 0.5: k2 = k3 = −k1/2);

and k3 = −k1 − k2 closes it. A leg with ky < 0 is read as the conjugate of its mirror; a leg whose kx
reaches past ±N/2 or whose ky past N/2 is out of the map's modes and its triangle is left out. Each triangle
adds Re(F(k1) F(k2) F(k3)) to the bin with edges[k] < ℓ1 <= edges[k+1]; B_k is the mean over the bin's
triangles times side_rad⁴ / N⁶ (κ³ rad⁴); an empty bin is 0. ℓ is returned as the arithmetic bin midpoints.

The triangles depend only on the map size, side, edges and configuration: they are listed once (numpy) and
every map is one rfft2 and three gathers, batched over maps on the input's device.
"""

from __future__ import annotations

import math
from functools import lru_cache
from typing import Any

import numpy as np
import torch

from ._backend import as_maps, binned_sum, edges_tensor, midpoints, out

CONFIGURATIONS = ("equilateral", "folded")
CHUNK_PIXELS = 1 << 20  # pixels per FFT batch on CPU
_S120, _C120, _T120 = 0.8660254037844386, -0.5, -1.7320508075688772  # LensTools' constants


@lru_cache(maxsize=32)
def _triangles(npix: int, side_deg: float, edges: tuple, configuration: str, ratio: float):
    """(index of k1, index of k2, conjugate k2?, index of k3, conjugate k3?, bin) of every triangle counted, as
    flat indices into the (N, N//2 + 1) rfft2 array, and the number of triangles per bin (B,)."""
    size_x, size_y = npix, npix // 2 + 1
    i = np.arange(size_x)
    kx1 = np.where(i < size_x >> 1, i, i - size_x)[:, None] * np.ones((1, size_y), dtype=np.int64)
    ky1 = np.ones((size_x, 1), dtype=np.int64) * np.arange(size_y)[None, :]
    ell = np.sqrt((kx1 * kx1 + ky1 * ky1).astype(np.float64)) * (360.0 / side_deg)
    e = np.asarray(edges, dtype=np.float64)
    keep = ell < e[-1]
    if configuration == "equilateral":
        keep &= ~((kx1 < 0) & (ky1 < kx1 * _T120))
        kx2 = np.trunc(_C120 * kx1 - _S120 * ky1).astype(np.int64)
        ky2 = np.trunc(_S120 * kx1 + _C120 * ky1).astype(np.int64)
    else:
        kx2 = -np.trunc(ratio * kx1).astype(np.int64)
        ky2 = -np.trunc(ratio * ky1).astype(np.int64)
    kx3, ky3 = -kx1 - kx2, -ky1 - ky2

    def locate(kx, ky):
        conj = ky < 0
        kx, ky = np.where(conj, -kx, kx), np.where(conj, -ky, ky)
        inside = (ky < size_y) & (kx > -size_y) & (kx < size_y)
        return size_y * np.where(kx < 0, size_x + kx, kx) + ky, conj, inside

    n2, c2, in2 = locate(kx2, ky2)
    n3, c3, in3 = locate(kx3, ky3)
    k = np.searchsorted(e, ell, side="left") - 1  # edges[k] < ℓ <= edges[k+1]
    keep &= in2 & in3 & (k >= 0) & (k < len(e) - 1)
    n1 = np.arange(size_x * size_y).reshape(size_x, size_y)
    picked = [a[keep] for a in (n1, n2, c2, n3, c3, k)]
    return (*picked, np.bincount(picked[-1], minlength=len(e) - 1))


def bispectrum(
    maps: Any, side_deg: float, ell_edges: Any, configuration: str = "equilateral", ratio: float = 0.5
) -> tuple[np.ndarray, Any]:
    """Bispectrum of each map in ℓ bins of its first leg.

    maps: (N, H, W) or (H, W) κ, numpy or torch (any device); side_deg: map side in degrees; ell_edges: (B+1,)
    bin edges; configuration: "equilateral" or "folded" (second leg −ratio·k1, 0 < ratio < 1). Returns
    (ℓ (B,) bin midpoints, B (N, B) in κ³ rad⁴), numpy for numpy input, torch on the input's device otherwise.
    """
    if configuration not in CONFIGURATIONS:
        raise ValueError(f"configuration must be one of {CONFIGURATIONS}, got {configuration!r}")
    if configuration == "folded" and not 0 < ratio < 1:
        raise ValueError(f"the folding ratio must be between 0 and 1, got {ratio}")
    t, is_numpy, single = as_maps(maps, dtype=None)
    n = t.shape[-1]
    edges = edges_tensor(ell_edges, t)
    key = tuple(float(x) for x in edges.cpu().numpy())
    n1, n2, c2, n3, c3, k, counts = _triangles(n, float(side_deg), key, configuration, float(ratio))
    as_t = lambda a: torch.as_tensor(a, device=t.device)  # noqa: E731
    n1, n2, n3, k = as_t(n1), as_t(n2), as_t(n3), as_t(k)
    sign2, sign3 = as_t(np.where(c2, -1.0, 1.0)), as_t(np.where(c3, -1.0, 1.0))  # conjugate: imaginary part flips
    nb = len(edges) - 1
    step = t.shape[0] if t.is_cuda else max(1, CHUNK_PIXELS // (n * n))
    sums = []
    for s in range(0, t.shape[0], step):
        f = torch.fft.rfft2(t[s : s + step].to(torch.float64)).reshape(-1, n * (n // 2 + 1))
        r1, i1 = f.real[:, n1], f.imag[:, n1]
        r2, i2 = f.real[:, n2], f.imag[:, n2] * sign2
        r3, i3 = f.real[:, n3], f.imag[:, n3] * sign3
        # Re(b1 b2 b3), written out as LensTools sums it
        value = r1 * r2 * r3 - r1 * i2 * i3 - i1 * r2 * i3 - i1 * i2 * r3
        sums.append(binned_sum(value, k.expand_as(value), nb))
    total = torch.cat(sums)
    c = as_t(counts).to(torch.float64)
    norm = math.radians(side_deg) ** 4 / n**6
    b = torch.where(c > 0, total / c.clamp(min=1), torch.zeros_like(total)) * norm
    return midpoints(edges), out(b, is_numpy, single)
