"""Starlet wavelet transform, its ℓ1-norm, and multiscale peak and minimum counts, as lenspack 1.0 defines them.

- ``starlet(maps, nscales)``: the isotropic undecimated (à trous) wavelet transform with the B3-spline kernel
  h = [1, 4, 6, 4, 1] / 16, applied separably along rows and columns and dilated by 2^j at step j (2^j − 1
  zeros between taps); boundaries by edge replication (scipy's ``convolve1d(mode="nearest")``, as lenspack's
  ``starlet2d`` and iSAP's ``mr_transform``). c_0 is the map, c_{j+1} = h_j ∗ c_j, and the wavelet plane
  w_j = c_j − c_{j+1}; plane j responds to structures of ~2^(j+1) pixels. The nscales planes and the coarse
  map c_nscales sum back to the map exactly.
- ``starlet_l1_norm``: per scale, the ℓ1-norm of the coefficients in bins of signal-to-noise (Ajani et al.
  2021): S = w_j / σ_j, and ℓ1_{j,i} = Σ |S| over the pixels with S in bin i, per map (dimensionless).
- ``starlet_peaks``: per scale, counts of peaks (pixels strictly above their 8 neighbours, the map's border
  pixels excluded: lenspack's ``find_peaks2d``) and of minima (peaks of −w_j), binned by their S = w_j / σ_j,
  per map. Bins include their lower edge (and the last its upper one, as ``numpy.histogram``).

σ_j is given by the caller (a metric uses the reference maps' coefficient spread at each scale, so one unit
serves every set and an amplitude error stays visible). Everything is float64, batched over (N, H, W) numpy
or torch, on the input's device.
"""

from __future__ import annotations

from typing import Any

import torch

from ._backend import as_maps, edges_tensor, midpoints, out

B3 = (1 / 16, 4 / 16, 6 / 16, 4 / 16, 1 / 16)
CHUNK_PIXELS = 1 << 18  # pixels per pass on CPU: a scale's intermediates stay in cache
KINDS = ("l1", "peaks", "minima")


def _smooth(c: torch.Tensor, j: int) -> torch.Tensor:
    """h_j ∗ c for c (N, H, W): the B3 kernel with 2^j − 1 zeros between taps, along rows then columns, edges
    replicated. Slices of an edge-padded copy, summed in scipy's order for a symmetric kernel (centre tap, then
    the pairs from the outermost in, each pair added before it is weighted) and without fused multiply-adds, so
    the planes equal lenspack's bit for bit and ties between neighbouring pixels break alike. The copy is padded
    along both axes at once: filtering along one axis commutes with replicating edge pixels along the other."""
    step = 2**j
    n_rows, n_cols = c.shape[-2:]
    y = torch.nn.functional.pad(c[:, None], (2 * step,) * 4, mode="replicate")[:, 0]
    for axis, n in ((1, n_rows), (2, n_cols)):
        taps = [y.narrow(axis, k * step, n) for k in range(5)]  # the pixels −2·step … +2·step away
        acc = taps[2] * B3[2]
        for k in (0, 1):
            acc.add_((taps[k] + taps[4 - k]).mul_(B3[k]))
        y = acc
    return y


def _check_scales(nscales: int, npix: int) -> None:
    if not 1 <= nscales or 2 ** (nscales + 1) > npix:
        raise ValueError(f"nscales must be at least 1 and 2^(nscales+1) at most the map side {npix}, got {nscales}")


def _planes(c: torch.Tensor, nscales: int):
    """Yield the wavelet planes w_0 … w_{nscales−1} of maps c (n, H, W), then the coarse map: the à trous loop
    that ``starlet`` and ``starlet_statistics`` share."""
    for j in range(nscales):
        smoother = _smooth(c, j)
        yield c - smoother
        c = smoother
    yield c


def starlet(maps: Any, nscales: int):
    """Starlet transform of each map: (N, nscales + 1, H, W), the wavelet planes w_0 … w_{nscales−1} (κ) then the
    coarse map; ``maps`` (N, H, W) or (H, W) (then (nscales + 1, H, W))."""
    t, is_numpy, single = as_maps(maps)
    _check_scales(nscales, t.shape[-1])
    return out(torch.stack(list(_planes(t, nscales)), 1), is_numpy, single)


def _scales(t: torch.Tensor, nscales: int, sigma: Any):
    """Yield (first map, j, S (n, H, W)): each wavelet plane in units of σ_j, a cache-sized batch of maps at a
    time."""
    _check_scales(nscales, t.shape[-1])
    sig = torch.as_tensor(sigma, dtype=torch.float64, device=t.device).reshape(-1)
    if len(sig) != nscales or not bool(torch.all(sig > 0)):
        raise ValueError(f"sigma must hold {nscales} positive values (one per scale), got {tuple(sig.shape)}")
    step = t.shape[0] if t.is_cuda else max(1, CHUNK_PIXELS // (t.shape[-1] * t.shape[-2]))
    for s in range(0, t.shape[0], step):
        for j, w in zip(range(nscales), _planes(t[s : s + step], nscales)):  # the coarse map is not a scale
            yield s, j, w / sig[j]


class _Columns:
    """Where values fall among S/N bin edges (B + 1,): column 1 + i of a (B + 2)-column histogram for
    edges[i] <= v < edges[i+1], the last bin closed above (``numpy.histogram``); column 0 below the first edge,
    B + 1 above the last and for NaN. The outer columns are dropped after counting, so no value needs moving.

    On evenly spaced edges (the metric's fine grid) a value's column is arithmetic: q = (v − e0)·B/(e_B − e0) + 1
    puts edge i at q ≈ i + 1. q is monotone in v (rounded subtractions and products are), so a value whose q is
    farther than EPS from every integer, where the computed q of every edge is within EPS/10 of its integer, lies
    strictly between the two edges that floor(q) names. Only the rare values nearer to an edge (and NaN) take a
    binary search: ~3× faster than searching for every value, with identical columns (tested)."""

    EPS = 1e-6

    def __init__(self, edges: torch.Tensor):
        self.edges, self.nb = edges, len(edges) - 1
        self.origin, self.scale = edges[0], self.nb / (edges[-1] - edges[0])
        grid = (edges - self.origin) * self.scale + 1
        exact = torch.arange(1, self.nb + 2, dtype=grid.dtype, device=grid.device)
        self.arithmetic = bool(torch.isfinite(self.scale)) and float((grid - exact).abs().max()) < self.EPS / 10

    def searched(self, values: torch.Tensor) -> torch.Tensor:
        k = torch.searchsorted(self.edges, values, right=True)  # edges <= v: 0 below, B + 1 above the last
        k[values == self.edges[-1]] = self.nb  # the last bin is closed above
        k[torch.isnan(values)] = self.nb + 1
        return k

    def __call__(self, values: torch.Tensor) -> torch.Tensor:
        values = values.contiguous()
        if not self.arithmetic:
            return self.searched(values)
        top = self.nb + 1
        # clamped half a column outside (NaN above), so truncation is the floor and no clamped value is "near"
        q = (values - self.origin).mul_(self.scale).add_(1).nan_to_num_(nan=top + 0.5).clamp_(0.5, top + 0.5)
        k = q.to(torch.long)
        near = torch.frac_(q).sub_(0.5).abs_() > 0.5 - self.EPS
        if bool(near.any()):
            k[near] = self.searched(values[near])
        return k


def _strict_maxima(x: torch.Tensor) -> torch.Tensor:
    """Flat indices into x (n, H, W) (map · H·W + row · W + column, ascending) of the pixels strictly above
    their 8 neighbours, the border excluded.

    Dense and separable (no gather, no float64 ``max_pool2d``, which is ~10× slower on CPU): the largest of the
    8 neighbours is the largest of the 3 above, the 3 below, the left and the right one. One flat index per
    pixel found, not three coordinates: ``nonzero`` writes a third as much."""
    across = torch.maximum(torch.maximum(x[:, :, :-2], x[:, :, 1:-1]), x[:, :, 2:])  # 3 along each row
    neighbours = torch.maximum(
        torch.maximum(across[:, :-2], across[:, 2:]), torch.maximum(x[:, 1:-1, :-2], x[:, 1:-1, 2:])
    )
    found = torch.zeros(x.shape, dtype=torch.bool, device=x.device)
    torch.gt(x[:, 1:-1, 1:-1], neighbours, out=found[:, 1:-1, 1:-1])
    return found.view(-1).nonzero().squeeze(1)


def _extrema_counts(snr: torch.Tensor, columns: _Columns) -> tuple[torch.Tensor, torch.Tensor]:
    """(peaks, minima) per map and bin, (n, B), as lenspack's ``find_peaks2d`` finds them in snr and in −snr:
    it first shifts the map by its minimum (so values that differ in the last bit can tie, and then are no
    peak) and reports heights as shifted value + minimum; both are reproduced, so counts are identical. For the
    minima, −snr − min(−snr) is computed as max(snr) − snr (the same floating-point numbers, IEEE rounding being
    symmetric, without negating the map first), and its minimum is −max(snr)."""
    width = columns.nb + 2
    low, high = snr.amin((1, 2)), snr.amax((1, 2))
    out = []
    per_map = snr.shape[1] * snr.shape[2]
    for sign, shifted, minimum in ((1.0, snr - low[:, None, None], low), (-1.0, high[:, None, None] - snr, -high)):
        found = _strict_maxima(shifted)
        which = torch.div(found, per_map, rounding_mode="floor")
        heights = sign * (shifted.view(-1)[found] + minimum[which])  # a minimum's height is its own S
        counts = torch.zeros(len(snr) * width, dtype=torch.float64, device=snr.device)
        counts.index_add_(0, which * width + columns(heights), torch.ones_like(heights))
        out.append(counts.reshape(len(snr), width)[:, 1:-1])
    return out[0], out[1]


def starlet_statistics(
    maps: Any, nscales: int, edges: Any, sigma: Any, kinds: tuple[str, ...] = KINDS
) -> tuple[Any, dict]:
    """The ℓ1-norm, peak and minimum counts of ``starlet_l1_norm`` and ``starlet_peaks`` from one transform.

    kinds: which of "l1", "peaks", "minima" to compute (finding extrema costs more than the ℓ1-norm: a caller
    that needs only ℓ1 skips it). Returns (S/N midpoints (B,), {kind: (N, nscales, B)})."""
    if not kinds or set(kinds) - set(KINDS):
        raise ValueError(f"kinds must be some of {KINDS}, got {kinds}")
    t, is_numpy, single = as_maps(maps)
    e = edges_tensor(edges, t)
    nb, columns = len(e) - 1, _Columns(e)
    result = {k: torch.empty(t.shape[0], nscales, nb, dtype=torch.float64, device=t.device) for k in kinds}
    extrema = "peaks" in kinds or "minima" in kinds
    for s, j, snr in _scales(t, nscales, sigma):
        rows = slice(s, s + len(snr))
        if "l1" in kinds:
            flat = snr.reshape(len(snr), -1)
            # each (map, bin) is summed in pixel order, whichever way its columns were found
            sums = flat.new_zeros(len(flat), nb + 2).scatter_add_(1, columns(flat), flat.abs())
            result["l1"][rows, j] = sums[:, 1:-1]
        if extrema:
            peaks, minima = _extrema_counts(snr, columns)
            for kind, counts in (("peaks", peaks), ("minima", minima)):
                if kind in kinds:
                    result[kind][rows, j] = counts
    return midpoints(e), {k: out(v, is_numpy, single) for k, v in result.items()}


def starlet_l1_norm(maps: Any, nscales: int, edges: Any, sigma: Any):
    """ℓ1-norm of the starlet coefficients per scale and S/N bin.

    maps: (N, H, W) or (H, W); edges: (B+1,) S/N bin edges; sigma: (nscales,) κ unit of each scale.
    Returns (S/N midpoints (B,), ℓ1 (N, nscales, B)): Σ |w_j / σ_j| over the pixels in each bin."""
    nu, stats_ = starlet_statistics(maps, nscales, edges, sigma, kinds=("l1",))
    return nu, stats_["l1"]


def starlet_peaks(maps: Any, nscales: int, edges: Any, sigma: Any):
    """Peak and minimum counts of the starlet coefficients per scale and S/N bin.

    maps: (N, H, W) or (H, W); edges: (B+1,) S/N bin edges (heights of minima are their own S, negative for
    most); sigma: (nscales,) κ unit of each scale. Returns (S/N midpoints (B,), peaks (N, nscales, B),
    minima (N, nscales, B)), counts per map (not per unit S/N)."""
    nu, stats_ = starlet_statistics(maps, nscales, edges, sigma, kinds=("peaks", "minima"))
    return nu, stats_["peaks"], stats_["minima"]
