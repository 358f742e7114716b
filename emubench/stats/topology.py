"""Betti numbers of excursion sets: how many connected regions (β0) and how many holes (β1) the part of a map
above a threshold has.

Conventions (those of gudhi's ``CubicalComplex(top_dimensional_cells=−κ)``, the T-construction, read as a
superlevel filtration of κ): the excursion set at threshold t is the union of the closed unit squares of the
pixels with κ ≥ t. Two such pixels that share only a corner are connected (8-connectivity of the set); a hole
is a bounded region of the complement, whose pixels connect through edges only (4-connectivity); the map's
border bounds nothing, so a region of the complement that reaches the border is no hole. β0 is counted by
labelling the set (``scipy.ndimage.label``, every map of a chunk at once); β1 = β0 − χ with χ = V − E + F the
Euler characteristic of the squares, counted exactly from the pixels, their edges and corners.

Computed on the CPU (numpy and scipy; maps on a GPU are copied): labelling has no batched torch counterpart.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from ._backend import as_maps, out

CHUNK_PIXELS = 1 << 22  # pixels labelled per call: 1,024 maps of 64² (4 MiB of int32 labels per threshold)
_IN_PLANE = np.zeros((3, 3, 3), dtype=bool)
_IN_PLANE[1] = True  # 8-connectivity within each map, none across maps of a stack


def euler_characteristic(mask: np.ndarray) -> np.ndarray:
    """χ = V − E + F of the union of the closed unit squares of the True pixels of mask (n, H, W) bool; (n,)."""
    m = np.pad(mask, ((0, 0), (1, 1), (1, 1)))  # (n, H+2, W+2): no square outside the map
    count = lambda a: np.count_nonzero(a, axis=(1, 2)).astype(np.int64)  # noqa: E731
    faces = count(mask)
    # an edge is in the union when a square on either side of it is; a corner when any of its four squares is
    edges = count(m[:, :-1, 1:-1] | m[:, 1:, 1:-1]) + count(m[:, 1:-1, :-1] | m[:, 1:-1, 1:])
    vertices = count(m[:, :-1, :-1] | m[:, :-1, 1:] | m[:, 1:, :-1] | m[:, 1:, 1:])
    return vertices - edges + faces


def components(mask: np.ndarray) -> np.ndarray:
    """β0: the number of 8-connected regions of True pixels in each map of mask (n, H, W) bool; (n,) int64.

    One ``scipy.ndimage.label`` call per chunk of maps: labels run in raster order over the stack, so a map's
    regions hold the labels after the largest of the maps before it."""
    from scipy import ndimage

    counts = np.empty(len(mask), dtype=np.int64)
    step = max(1, CHUNK_PIXELS // (mask.shape[1] * mask.shape[2]))
    for s in range(0, len(mask), step):
        labels, _ = ndimage.label(mask[s : s + step], structure=_IN_PLANE)
        last = labels.reshape(len(labels), -1).max(1)  # 0 for a map with no region
        before = np.maximum.accumulate(np.concatenate([[0], last[:-1]]))
        counts[s : s + step] = np.where(last > 0, last - before, 0)
    return counts


def betti_numbers(maps: Any, thresholds: Any) -> tuple[Any, Any, Any]:
    """Betti numbers of the excursion sets {κ ≥ t} of each map at each threshold.

    maps: (N, H, W) or (H, W) κ; thresholds: (T,) κ, increasing. Returns (thresholds (T,) numpy, β0 (N, T),
    β1 (N, T)) as float64 counts per map, numpy for numpy input (torch on the input's device otherwise)."""
    t, is_numpy, single = as_maps(maps)
    levels = np.atleast_1d(np.asarray(thresholds, dtype=np.float64))
    if levels.ndim != 1 or np.any(np.diff(levels) <= 0) or not np.all(np.isfinite(levels)):
        raise ValueError("thresholds must be a strictly increasing 1-D sequence of finite values")
    x = t.cpu().numpy()
    b0 = np.empty((len(x), len(levels)))
    b1 = np.empty_like(b0)
    for k, level in enumerate(levels):
        mask = x >= level
        # a map that is all in the set is one region without holes: counted without labelling it, which costs as
        # much for a full map as for any other (the metric's lowest thresholds are below every pixel of most maps)
        partial = ~mask.all(axis=(1, 2))
        b0[:, k], b1[:, k] = 1, 0
        if partial.any():
            m = mask if partial.all() else mask[partial]
            b0[partial, k] = components(m)
            b1[partial, k] = b0[partial, k] - euler_characteristic(m)
    to = lambda a: out(torch.from_numpy(a).to(t.device), is_numpy, single)  # noqa: E731
    return levels, to(b0), to(b1)
