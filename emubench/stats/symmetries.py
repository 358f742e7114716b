"""The 8 symmetries of the square (dihedral group D4) on stacks of maps, numpy or torch (GPU included).

The one implementation: training-time augmentation, the memoriser baselines and the symmetry-aware neighbour
search all use it, so "symmetry k" means the same map everywhere.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch


def symmetry(x: Any, k: int) -> Any:
    """Apply symmetry k ∈ 0..7 to (..., H, W): k % 4 quarter turns, then a left-right flip if k >= 4."""
    if isinstance(x, torch.Tensor):
        y = torch.rot90(x, k % 4, dims=(-2, -1))
        return torch.flip(y, dims=(-1,)) if k >= 4 else y
    y = np.rot90(x, k % 4, axes=(-2, -1))
    return np.flip(y, axis=-1) if k >= 4 else y


def all_symmetries(x: Any) -> list:
    """The 8 images of ``x`` under D4, identity first."""
    return [symmetry(x, k) for k in range(8)]


def random_symmetries(batch: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """Each map of (B, ..., H, W) under its own random D4 element, on the batch's device, with no host sync."""
    device = generator.device if generator else batch.device
    ks = torch.randint(0, 8, (batch.shape[0],), generator=generator, device=device).to(batch.device)
    out = batch
    # Build the result with masks instead of a per-map Python loop, so nothing waits on the GPU.
    for k in range(1, 8):
        mask = (ks == k).view(-1, *([1] * (batch.ndim - 1)))
        out = torch.where(mask, symmetry(batch, k), out)
    return out
