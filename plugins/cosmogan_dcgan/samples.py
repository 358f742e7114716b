"""The grid of samples written at the end of every epoch (``samples/epoch-NNN.png`` in the run folder)."""

from __future__ import annotations

import io
import math
from typing import Any

import numpy as np
import torch

from . import seeds
from .config import DCGANConfig
from .networks import Generator, generate_eval


def grid_latents(model_cfg: DCGANConfig, device: str) -> tuple[torch.Tensor, torch.Tensor | None]:
    """The fixed latents (16, latent) of the grid, and for a conditional model its parameters (16, P, scaled):
    one latent across the grid's parameters then, so that the grid shows what the parameters change."""
    z = torch.randn(16, model_cfg.latent, generator=torch.Generator().manual_seed(seeds.SAMPLE_GRID)).to(device)
    if not model_cfg.params:
        return z, None
    return z[:1].expand(16, -1), torch.from_numpy(grid_params(len(model_cfg.params))).to(device)


def grid_params(n_params: int) -> np.ndarray:
    """16 scaled parameter vectors (16, P) for a conditional model's sample grid: 4 × 4 over the first two
    parameters' training ranges (rows: the first, columns: the second; others at the middle), or 16 steps
    of a single one."""
    if n_params == 1:
        return np.linspace(-1, 1, 16, dtype=np.float32)[:, None]
    g = np.zeros((16, n_params), dtype=np.float32)
    steps = np.linspace(-1, 1, 4, dtype=np.float32)
    g[:, 0], g[:, 1] = np.repeat(steps, 4), np.tile(steps, 4)
    return g


def sample_grid(generator: Generator, z: torch.Tensor, theta: torch.Tensor | None, transform: Any) -> bytes:
    """The grid's maps from ``generator`` in eval mode (its mode is restored), as PNG bytes."""
    return grid_png(generate_eval(generator, z, transform, theta))


def grid_png(maps: np.ndarray, gap: int = 2) -> bytes:
    """A square grid of maps (n, H, W) as 8-bit greyscale PNG bytes, κ from its 1st to its 99.5th percentile
    mapped to black…white, ``gap`` white pixels between maps.

    Written with Pillow (matplotlib's own image library) rather than matplotlib: importing and first drawing
    matplotlib cost about a second in every training process, which the tests start dozens of."""
    from PIL import Image

    k = int(math.ceil(math.sqrt(len(maps))))
    h, w = maps.shape[-2:]
    lo, hi = np.percentile(maps, [1, 99.5])
    grey = np.clip((np.asarray(maps, dtype=np.float64) - lo) / max(hi - lo, 1e-30), 0.0, 1.0)
    canvas = np.full((k * (h + gap) - gap, k * (w + gap) - gap), 255, dtype=np.uint8)
    for i, m in enumerate(grey):
        r, c = divmod(i, k)
        canvas[r * (h + gap) : r * (h + gap) + h, c * (w + gap) : c * (w + gap) + w] = np.rint(m * 255)
    buf = io.BytesIO()
    Image.fromarray(canvas).save(buf, format="PNG")
    return buf.getvalue()
