"""Peak counts as LensTools 1.2 ``ConvergenceMap.peakCount`` defines them.

A peak is a pixel strictly greater than all 8 neighbours (periodic wrap). LensTools holds the centre value
in a C float, so the centre is rounded to float32 before comparing and binning (exact for float32 maps).
Each peak with edges[k]·σ <= κ < edges[k+1]·σ adds 1/(edges[k+1]-edges[k]): a differential count per unit
threshold, per map, with no area normalisation.
"""

from __future__ import annotations

from typing import Any

import torch

from ._backend import as_maps, binned_sum, edges_tensor, map_sigma, midpoints, out, threshold_bins

CHUNK_PIXELS = 1 << 18  # pixels per pass on CPU: the eight comparisons stay in cache


def peak_mask(t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(is_peak (N, H, W) bool, centre values rounded to float32 as float64).

    A peak is strictly above its 8 periodic neighbours: slices of one circularly padded copy, a cache-sized
    batch of maps at a time on CPU."""
    centre = t.to(torch.float32).to(torch.float64)
    is_peak = torch.empty_like(t, dtype=torch.bool)
    h, w = t.shape[-2:]
    step = t.shape[0] if t.is_cuda else max(1, CHUNK_PIXELS // (h * w))
    for s in range(0, t.shape[0], step):
        c = centre[s : s + step]
        p = torch.nn.functional.pad(t[s : s + step][:, None], (1, 1, 1, 1), mode="circular")[:, 0]
        m = is_peak[s : s + step]
        m.fill_(True)
        for dy in (0, 1, 2):
            for dx in (0, 1, 2):
                if dy != 1 or dx != 1:
                    m &= c > p[:, dy : dy + h, dx : dx + w]
    return is_peak, centre


def peak_counts(maps: Any, thresholds: Any, norm: bool = False):
    """Differential peak counts of each map.

    maps: (N, H, W) or (H, W); thresholds: (B+1,) edges in κ (σ units if ``norm``).
    Returns (nu (B,) midpoints, counts (N, B)) in peaks per unit threshold per map.
    """
    t, is_numpy, single = as_maps(maps)
    edges = edges_tensor(thresholds, t)
    nb = len(edges) - 1
    sigma = map_sigma(t, norm)
    is_peak, centre = peak_mask(t)
    flat = centre.reshape(t.shape[0], -1)
    idx = threshold_bins(flat, edges, sigma)
    idx = torch.where(is_peak.reshape(t.shape[0], -1), idx, torch.full_like(idx, -1))
    counts = binned_sum(torch.ones_like(flat), idx, nb) / (edges[1:] - edges[:-1])[None, :]
    return midpoints(edges), out(counts, is_numpy, single)
