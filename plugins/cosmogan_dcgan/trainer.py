"""The registered trainer of cosmogan-dcgan: presets and config checks here (no torch), the loop in train.py."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from emubench import EmubenchError, TrainRequest

from .config import PRESETS, TrainConfig


class DCGANTrainer:
    """Trains cosmogan-dcgan: non-saturating BCE GAN loss, Adam(β1=0.5), per-sample label flips, presets."""

    name = "cosmogan-dcgan-trainer"
    description = (
        "GAN trainer for cosmogan-dcgan (presets: smoke, thesis, cosmogan; on several cosmologies, conditioned "
        "on their parameters: cosmo-smoke, cosmo); GPU-resident data, bf16, DDP via torchrun"
    )
    models = ("cosmogan-dcgan",)
    presets: dict[str, TrainConfig] = PRESETS
    default_preset = "thesis"

    def make_config(self, preset: str | None, overrides: dict[str, Any]) -> dict[str, Any]:
        """The preset's ``TrainConfig`` with ``overrides``, as a JSON-able dict (the network under ``model``)."""
        preset = preset or self.default_preset
        if preset not in PRESETS:
            raise EmubenchError(f"unknown preset {preset!r} for cosmogan-dcgan (known: {', '.join(PRESETS)})")
        return PRESETS[preset].with_overrides(overrides).to_dict()

    def train(self, request: TrainRequest) -> Path:
        """Train as ``request`` says (``emubench.TrainRequest``); torch loads here, not when the plugin registers."""
        from .train import train

        return train(request)
