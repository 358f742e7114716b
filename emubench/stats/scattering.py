"""Wavelet scattering coefficients of κ maps (Mallat 2012; for weak lensing Cheng et al. 2020), as kymatio 0.3
defines the 2-D transform.

- ``scattering_transform(maps, J, L)``: kymatio's ``Scattering2D(J, (H, W), L, max_order=2)`` output, every path
  at every position: (N, 1 + J·L + L²·J(J−1)/2, H/2^J, W/2^J) in kymatio's order (S0; S1 by scale j then
  angle θ; S2 by (j1, θ1) then (j2, θ2) with j2 > j1).
- ``scattering_coefficients(maps, J, L)``: the reduced isotropic set of Cheng et al. (2020), per map: s0, the
  spatial mean of S0; s1(j) = ⟨S1(j, θ)⟩ over angles and positions; s2(j1, j2) = ⟨S2(j1, θ1, j2, θ2)⟩ over both
  angles and positions, for j2 > j1. s1 measures the map's power at scale 2^j (like band powers, but through a
  modulus: an L1 rather than L2 norm), s2/s1 its clustering across scales, which a Gaussian field with the same
  spectrum does not share.

The transform, as kymatio computes it: the map is reflected at its edges to (H_p, W_p), the next multiple of 2^J
at least 2^J beyond it on each side; its Fourier transform is multiplied by Fourier-space filters: Morlet
wavelets ψ_{j,θ} (a Gabor function g_σ(u) e^{iξ·u} minus its Gaussian envelope times the constant that gives it
zero mean; σ = 0.8·2^j, ξ = 3π/4 / 2^j along θ = (L/2 − 1 − k)π/L, ellipticity 4/L; summed over 5 × 5
periodic images) and the Gaussian low-pass φ (σ = 0.8·2^(J−1)). Each modulus |x ∗ ψ| is computed on a grid
subsampled by 2^j (in Fourier space: periodisation, i.e. averaging the spectrum's k × k blocks), filters for a
coarser grid are the full-size filter with the frequencies beyond its Nyquist zeroed and folded in. Every path
ends with φ and a subsampling to 2^J, and the padding's border (one coarse pixel a side) is cut off.
kymatio normalises its Gabor functions by 2·3.1415·σ²/slant (sic: not π); kept here, as every coefficient
scales with it. Filters are built in float64; a float32 map is transformed in complex64 (kymatio's precision),
a float64 map in complex128.
"""

from __future__ import annotations

import functools
import math
from typing import Any

import numpy as np
import torch

from ._backend import as_maps, out

# Elements of the largest intermediate (the first scale's second-order products) per pass. On the CPU a pass of
# 2^21 (32 MB complex128: 3 maps of 64²) runs 2–3× faster than one of 2^24: larger passes spent as much time in
# the kernel, faulting in fresh pages for each temporary, as in the arithmetic. Results are the same bits.
CHUNK_ELEMENTS = 1 << 21
GPU_CHUNK_ELEMENTS = 1 << 24  # a GPU wants large batches (not measured on one)


def padded_size(n: int, J: int) -> int:
    """kymatio's padded side: the multiple of 2^J that leaves at least 2^J pixels beyond the map on each side."""
    return ((n + 2**J) // 2**J + 1) * 2**J


def _gabor(m: int, n: int, sigma: float, theta: float, xi: float, slant: float) -> np.ndarray:
    """A Gabor function g_σ(u) e^{iξ (u·(cos θ, sin θ))} sampled at integer u on an (m, n) periodic grid (the
    sum of its 5 × 5 periodic images), normalised by 2·3.1415·σ²/slant as kymatio does."""
    c, s = math.cos(theta), math.sin(theta)
    rot = np.array([[c, -s], [s, c]])
    curv = rot @ np.diag([1.0, slant * slant]) @ rot.T / (2 * sigma * sigma)
    images = np.arange(-2, 3)
    x = (np.arange(m)[None, :] + m * images[:, None])[:, None, :, None]  # (5, 1, m, 1): rows of every image
    y = (np.arange(n)[None, :] + n * images[:, None])[None, :, None, :]  # (1, 5, 1, n): columns
    arg = -(curv[0, 0] * x * x + (curv[0, 1] + curv[1, 0]) * x * y + curv[1, 1] * y * y) + 1j * xi * (x * c + y * s)
    return np.exp(arg).sum(axis=(0, 1)) / (2 * 3.1415 * sigma * sigma / slant)


def _morlet(m: int, n: int, sigma: float, theta: float, xi: float, slant: float) -> np.ndarray:
    """The Gabor function minus its envelope times the constant that makes the sum zero (a zero-mean wavelet)."""
    wave = _gabor(m, n, sigma, theta, xi, slant)
    envelope = _gabor(m, n, sigma, theta, 0.0, slant)
    return wave - wave.sum() / envelope.sum() * envelope


def _periodize(f: np.ndarray, res: int) -> np.ndarray:
    """A Fourier-space filter (m, n) for the grid subsampled by 2^res: the frequencies past that grid's Nyquist
    zeroed, the rest folded onto (m/2^res, n/2^res)."""
    m, n = f.shape
    k = 2**res
    f = f.copy()
    f[int(m * 2 ** (-res - 1)) : int(m * 2 ** (-res - 1)) + int(m * (1 - 2**-res)), :] = 0
    f[:, int(n * 2 ** (-res - 1)) : int(n * 2 ** (-res - 1)) + int(n * (1 - 2**-res))] = 0
    return f.reshape(k, m // k, k, n // k).sum(axis=(0, 2))


@functools.lru_cache(maxsize=8)
def filter_bank(m: int, n: int, J: int, L: int) -> tuple[list[np.ndarray], list[list[np.ndarray]]]:
    """(φ at resolutions 0 … J−1, ψ[j·L + θ] at resolutions 0 … min(j, max(J−2, 0))): real Fourier-space filters
    (float64) of the padded (m, n) grid, kymatio's bank."""
    from numpy.fft import fft2

    psi = []
    for j in range(J):
        for t in range(L):
            theta = (int(L - L / 2 - 1) - t) * math.pi / L
            f = np.real(fft2(_morlet(m, n, 0.8 * 2**j, theta, 3.0 / 4.0 * math.pi / 2**j, 4.0 / L)))
            psi.append([_periodize(f, res) for res in range(min(j + 1, max(J - 1, 1)))])
    phi_f = np.real(fft2(_gabor(m, n, 0.8 * 2 ** (J - 1), 0.0, 0.0, 1.0)))
    return [_periodize(phi_f, res) for res in range(J)], psi


def _subsample(x: torch.Tensor, k: int) -> torch.Tensor:
    """The spectrum of x subsampled by k in space: the mean of its k × k blocks (periodisation), (..., m/k, n/k)."""
    if k == 1:
        return x
    m, n = x.shape[-2:]
    # two plain sums, one axis at a time: 2.4 times faster on CPU than torch's complex mean over both at once
    rows = x.reshape(*x.shape[:-2], k, m // k, n).sum(-3)
    return rows.reshape(*rows.shape[:-1], k, n // k).sum(-2) / (k * k)


def _low_pass(u_hat: torch.Tensor, phi: torch.Tensor, k: int) -> torch.Tensor:
    """The real field (x ∗ φ) subsampled by k, its padding border (one pixel a side) cut off."""
    return torch.fft.ifft2(_subsample(u_hat * phi, k)).real[..., 1:-1, 1:-1]


def _check(npix: int, J: int, L: int) -> None:
    if J < 1 or L < 1 or 2**J > npix or (padded_size(npix, J) - npix) // 2 >= npix:
        raise ValueError(f"need J ≥ 1, L ≥ 1 and 2^(J+1) < the map side {npix}, got J={J}, L={L}")


def _chunk(t: torch.Tensor, J: int, L: int) -> int:
    """Maps per pass of ``_paths`` for maps t (N, H, W) on their device."""
    budget = GPU_CHUNK_ELEMENTS if t.is_cuda else CHUNK_ELEMENTS
    return max(1, budget // (padded_size(t.shape[-1], J) ** 2 * L * L))


def scattering_transform(maps: Any, J: int = 4, L: int = 8) -> Any:
    """kymatio's second-order 2-D scattering of maps (N, H, W) (or (H, W)): (N, 1 + J·L + L²·J(J−1)/2,
    H/2^J, W/2^J), S0 then S1 (j, θ) then S2 (j1, θ1, j2 > j1, θ2), in the maps' units. numpy in, numpy out."""
    t, is_numpy, single = as_maps(maps, dtype=None)
    _check(t.shape[-1], J, L)
    parts = []
    step = _chunk(t, J, L)
    for i in range(0, len(t), step):
        s0, s1, s2 = _paths(t[i : i + step], J, L)
        second = [s2[j1, j2][:, t1, t2] for j1 in range(J) for t1 in range(L) for j2 in range(j1 + 1, J)
                  for t2 in range(L)]  # fmt: skip  # kymatio's order: (j1, θ1) outer, then (j2, θ2)
        blocks = [s0[:, None], s1.flatten(1, 2)] + ([torch.stack(second, 1)] if second else [])
        parts.append(torch.cat(blocks, 1))
    return out(torch.cat(parts), is_numpy, single)


def scattering_coefficients(maps: Any, J: int = 4, L: int = 8) -> tuple[Any, Any, Any]:
    """The reduced isotropic coefficients of maps (N, H, W): (s0 (N,), s1 (N, J), s2 (N, J(J−1)/2) for the pairs
    ``scattering_pairs(J)``), spatial and angular means of ``scattering_transform``'s paths, in the maps' units (κ).
    float64, on the input's device; numpy in, numpy out."""
    t, is_numpy, single = as_maps(maps, dtype=torch.float64)
    _check(t.shape[-1], J, L)
    s0, s1, s2 = [], [], []
    step = _chunk(t, J, L)
    for i in range(0, len(t), step):
        a, b, c = _paths(t[i : i + step], J, L)
        s0.append(a.mean(dim=(-2, -1)))
        s1.append(b.mean(dim=(-3, -2, -1)))
        means = [c[p].mean(dim=(-4, -3, -2, -1)) for p in scattering_pairs(J)]
        s2.append(torch.stack(means, 1) if means else a.new_zeros((len(a), 0)))
    return tuple(out(torch.cat(x), is_numpy, single) for x in (s0, s1, s2))


def scattering_pairs(J: int) -> list[tuple[int, int]]:
    """The (j1, j2) of ``scattering_coefficients``' s2, in order: (0, 1), (0, 2), …, (J−2, J−1)."""
    return [(j1, j2) for j1 in range(J) for j2 in range(j1 + 1, J)]


def _paths(x: torch.Tensor, J: int, L: int) -> tuple[torch.Tensor, torch.Tensor, dict]:
    """(S0 (n, h, w), S1 (n, J, L, h, w), {(j1, j2): S2 (n, L, L, h, w)}) of maps x (n, H, W), (h, w) =
    (H, W)/2^J: the transform in the module docstring, all angles of a scale at once."""
    rows, cols = x.shape[-2:]
    m, p = padded_size(rows, J), padded_size(cols, J)
    phi_np, psi_np = filter_bank(m, p, J, L)
    as_t = lambda a: torch.as_tensor(a, dtype=x.dtype, device=x.device)  # noqa: E731
    phi = [as_t(f) for f in phi_np]
    # psi[j][res]: the L wavelets of scale j for the grid subsampled by 2^res, (L, m/2^res, p/2^res)
    psi = [[as_t(np.stack([psi_np[j * L + a][res] for a in range(L)])) for res in range(len(psi_np[j * L]))]
           for j in range(J)]  # fmt: skip
    pads = ((p - cols) // 2, (p - cols + 1) // 2, (m - rows) // 2, (m - rows + 1) // 2)
    u0 = torch.fft.fft2(torch.nn.functional.pad(x[:, None], pads, mode="reflect")[:, 0])
    s0 = _low_pass(u0, phi[0], 2**J)
    s1, s2 = [], {}
    for j1 in range(J):
        u1 = torch.fft.fft2(torch.fft.ifft2(_subsample(u0[:, None] * psi[j1][0], 2**j1)).abs())  # (n, L, ...)
        s1.append(_low_pass(u1, phi[j1], 2 ** (J - j1)))
        for j2 in range(j1 + 1, J):
            u2 = _subsample(u1[:, :, None] * psi[j2][j1], 2 ** (j2 - j1))  # (n, L, L, ...): θ1, θ2
            s2[j1, j2] = _low_pass(torch.fft.fft2(torch.fft.ifft2(u2).abs()), phi[j2], 2 ** (J - j2))
    return s0, torch.stack(s1, dim=1), s2
