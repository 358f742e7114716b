"""One-point distribution and moments of κ.

``pdf`` follows LensTools 1.2 ``ConvergenceMap.pdf``: ``np.histogram(κ, bins=edges·σ, density=True)·σ``
per map, normalised over the pixels inside the edges only, last bin closed.
"""

from __future__ import annotations

from typing import Any

import torch

from ._backend import as_maps, binned_sum, edges_tensor, map_sigma, midpoints, out, threshold_bins


def pdf(maps: Any, thresholds: Any, norm: bool = False):
    """Pixel pdf of each map. Returns (nu (B,) midpoints, pdf (N, B)), a density per unit threshold."""
    t, is_numpy, single = as_maps(maps)
    edges = edges_tensor(thresholds, t)
    nb = len(edges) - 1
    sigma = map_sigma(t, norm)
    flat = t.reshape(t.shape[0], -1)
    idx = threshold_bins(flat, edges, sigma)
    # numpy.histogram closes the last bin: κ equal to the top edge belongs to it.
    idx = torch.where(flat == edges[-1] * sigma, torch.full_like(idx, nb - 1), idx)
    hist = binned_sum(torch.ones_like(flat), idx, nb)
    width = (edges[1:] - edges[:-1])[None, :] * sigma
    total = hist.sum(1, keepdim=True)
    dens = torch.where(total > 0, hist / (total.clamp(min=1) * width), torch.zeros_like(hist)) * sigma
    return midpoints(edges), out(dens, is_numpy, single)


def moments(maps: Any) -> dict[str, Any]:
    """Per-map one-point moments: mean, variance (ddof=0), skewness and excess kurtosis, each (N,)."""
    t, is_numpy, single = as_maps(maps)
    flat = t.reshape(t.shape[0], -1)
    mean = flat.mean(1)
    d = flat - mean[:, None]
    var = (d**2).mean(1)
    sd = torch.sqrt(var).clamp(min=torch.finfo(torch.float64).tiny)
    skew = (d**3).mean(1) / sd**3
    kurt = (d**4).mean(1) / sd**4 - 3
    return {
        k: out(v, is_numpy, single)
        for k, v in {"mean": mean, "variance": var, "skewness": skew, "kurtosis": kurt}.items()
    }


def pixel_cdf(maps: Any, thresholds: Any, chunk_pixels: int = 1 << 22):
    """Empirical CDF of each map's pixels at ``thresholds``: the fraction of pixels ≤ t, shape (N, G).

    thresholds: (G,) increasing κ values. The mean over a set of maps is the set's pooled pixel CDF, so a
    two-sample KS distance on the grid is max |mean_a − mean_b| (what the pixel-ks metric calibrates).
    Works ``chunk_pixels`` pixels at a time (the bin index of every pixel is int64).
    """
    t, is_numpy, single = as_maps(maps, dtype=None)
    grid = torch.as_tensor(thresholds, dtype=t.dtype, device=t.device).contiguous()
    n, per_map = t.shape[0], t.shape[-1] * t.shape[-2]
    g = len(grid)
    counts = torch.zeros(n, g + 1, dtype=torch.float64, device=t.device)
    step = max(1, chunk_pixels // per_map)
    for s in range(0, n, step):
        flat = t[s : s + step].reshape(-1, per_map)
        # bucket i holds grid[i-1] < κ ≤ grid[i]; the count ≤ grid[g] is the cumulative sum up to bucket g
        idx = torch.bucketize(flat, grid, right=False)
        counts[s : s + step].scatter_add_(1, idx, torch.ones_like(idx, dtype=torch.float64))
    cdf = torch.cumsum(counts[:, :g], 1) / per_map
    return out(cdf, is_numpy, single)
