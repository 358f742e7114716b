"""The grid of samples written at the end of every epoch (``samples/epoch-NNN.png`` in the run folder)."""

from __future__ import annotations

from typing import Any

import torch

from emubench import grid_params, grid_png

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


def sample_grid(generator: Generator, z: torch.Tensor, theta: torch.Tensor | None, transform: Any) -> bytes:
    """The grid's maps from ``generator`` in eval mode (its mode is restored), as PNG bytes."""
    return grid_png(generate_eval(generator, z, transform, theta))
