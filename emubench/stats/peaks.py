"""Peak counts as LensTools 1.2 ``ConvergenceMap.peakCount`` defines them.

A peak is a pixel strictly greater than all 8 neighbours (periodic wrap). LensTools holds the centre value
in a C float, so the centre is rounded to float32 before comparing and binning (exact for float32 maps).
Each peak with edges[k]·σ <= κ < edges[k+1]·σ adds 1/(edges[k+1]-edges[k]): a differential count per unit
threshold, per map, with no area normalisation.
"""

from __future__ import annotations

from typing import Any

import torch

from ._backend import as_maps, edges_tensor, map_sigma, midpoints, out

CHUNK_PIXELS = 1 << 18  # pixels per pass on CPU: the eight comparisons stay in cache


def peak_mask(t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(is_peak (N, H, W) bool, centre values rounded to float32 as float64) of maps t (N, H, W), all at once.

    A peak is strictly above its 8 periodic neighbours: slices of one circularly padded copy."""
    centre = t.to(torch.float32).to(torch.float64)
    h, w = t.shape[-2:]
    p = torch.nn.functional.pad(t[:, None], (1, 1, 1, 1), mode="circular")[:, 0]
    is_peak = torch.ones_like(t, dtype=torch.bool)
    for dy in (0, 1, 2):
        for dx in (0, 1, 2):
            if dy != 1 or dx != 1:
                is_peak &= centre > p[:, dy : dy + h, dx : dx + w]
    return is_peak, centre


def peak_counts(maps: Any, thresholds: Any, norm: bool = False):
    """Differential peak counts of each map.

    maps: (N, H, W) or (H, W); thresholds: (B+1,) edges in κ (σ units if ``norm``).
    Returns (nu (B,) midpoints, counts (N, B)) in peaks per unit threshold per map.

    A cache-sized batch of maps at a time on CPU; only the peaks found (a few percent of the pixels) are binned,
    each among its own map's thresholds (edges·σ): edges[k]·σ <= κ < edges[k+1]·σ."""
    t, is_numpy, single = as_maps(maps)
    edges = edges_tensor(thresholds, t)
    nb = len(edges) - 1
    per_map = (edges[None, :] * map_sigma(t, norm)).contiguous()  # (N, B+1) thresholds on raw κ
    counts = torch.zeros(t.shape[0] * nb, dtype=torch.float64, device=t.device)
    h, w = t.shape[-2:]
    step = t.shape[0] if t.is_cuda else max(1, CHUNK_PIXELS // (h * w))
    for s in range(0, t.shape[0], step):
        is_peak, centre = peak_mask(t[s : s + step])
        which, pixel = is_peak.reshape(len(is_peak), -1).nonzero(as_tuple=True)
        heights = centre.reshape(len(centre), -1)[which, pixel]
        which = which + s
        k = torch.searchsorted(per_map[which], heights[:, None], right=True)[:, 0] - 1
        inside = (k >= 0) & (k < nb)
        counts.index_add_(0, (which * nb + k)[inside], torch.ones_like(heights[inside]))
    counts = counts.reshape(t.shape[0], nb) / (edges[1:] - edges[:-1])[None, :]
    return midpoints(edges), out(counts, is_numpy, single)
