"""Validation at the end of every epoch: the scoring code's pixel KS, power spectrum and memorisation check
(``emubench.validate_generator``) against the validation split, which ranks the checkpoints (``best``) and drives
early stopping."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from emubench import MapSet, validate_generator

from .config import TrainConfig
from .networks import Generator, generate_eval


def validate(
    generator: Generator, transform: Any, splits: dict[str, MapSet], cfg: TrainConfig, device: str, seed: int
) -> dict[str, Any]:
    """``emubench.validate_generator`` of ``cfg.val_maps`` maps generated from the latents of ``seed`` (the same
    at every epoch, so that epochs compare); a conditional generator is validated at a few training cosmologies
    and the figures are those of the worst one (see ``validate_generator``)."""
    mcfg = generator.cfg

    def generate(n: int, theta: np.ndarray | None) -> np.ndarray:
        z = torch.randn(n, mcfg.latent, generator=torch.Generator(device=device).manual_seed(seed), device=device)
        scaled = None if theta is None else torch.from_numpy(mcfg.scale_params(theta, n)).to(device)
        return generate_eval(generator, z, transform, scaled)

    return validate_generator(
        generate, splits, n=cfg.val_maps, seed=seed, params=mcfg.params, param_range=(mcfg.param_lo, mcfg.param_hi)
    )
