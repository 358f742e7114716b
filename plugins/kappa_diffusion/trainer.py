"""The registered trainer of kappa-diffusion: presets and config checks here (no torch), the loop in train.py."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from emubench import EmubenchError, TrainRequest

from .config import PRESETS, TrainConfig


class DiffusionTrainer:
    """Trains kappa-diffusion: ε-prediction with the DDPM loss, Adam with warm-up, EMA weights, presets."""

    name = "kappa-diffusion-trainer"
    description = (
        "denoising-diffusion trainer for kappa-diffusion (presets: smoke, hmc; on several cosmologies, "
        "conditioned on their parameters: cosmo-smoke, cosmo); needs pip install 'emubench[diffusion]'"
    )
    models = ("kappa-diffusion",)
    presets: dict[str, TrainConfig] = PRESETS
    default_preset = "hmc"

    def make_config(self, preset: str | None, overrides: dict[str, Any]) -> dict[str, Any]:
        """The preset's ``TrainConfig`` with ``overrides``, as a JSON-able dict (the network under ``model``)."""
        preset = preset or self.default_preset
        if preset not in PRESETS:
            raise EmubenchError(f"unknown preset {preset!r} for kappa-diffusion (known: {', '.join(PRESETS)})")
        return PRESETS[preset].with_overrides(overrides).to_dict()

    def train(self, request: TrainRequest) -> Path:
        """Train as ``request`` says; torch and diffusers load here, not when the plugin registers."""
        from .train import train

        return train(request)
