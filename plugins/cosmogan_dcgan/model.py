"""The registered model ``cosmogan-dcgan``: the generator of a trained run, sampling maps in κ.

The networks are in ``networks.py`` (torch is imported when a run is loaded, not when the plugin registers).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from emubench import EmubenchError, RunFolder, get_transform

from .config import DCGANConfig


class CosmoGANDCGAN:
    """CosmoGAN's DCGAN (thesis re-implementation): trained with `emubench train cosmogan-dcgan`."""

    name = "cosmogan-dcgan"
    description = "DCGAN of CosmoGAN / the thesis (5×5 stride-2 convs, tanh output in CosmoGAN's transformed units)"

    def __init__(self, generator: Any, transform: Any, device: str = "cpu"):
        self.generator = generator.to(device).eval()
        self.transform = transform
        self.device = device
        # non-empty for a model trained on maps of several cosmologies: the harness then passes params to sample
        self.parameters: tuple[str, ...] = generator.cfg.params

    @property
    def n_parameters(self) -> int:
        """The generator's weights (what sampling needs; the discriminator is a training cost only)."""
        return sum(p.numel() for p in self.generator.parameters())

    @classmethod
    def from_run(cls, run_dir: str | Path, manifest: dict, *, checkpoint: str | None = None, device: str = "cpu"):
        """Rebuild the generator from a run folder: config from the manifest, weights from a verified checkpoint."""
        from .networks import Generator

        cfg = DCGANConfig(**manifest["model_config"])
        state = RunFolder(run_dir, manifest).load_checkpoint(checkpoint)
        gen = Generator(cfg)
        try:
            gen.load_state_dict(state["generator"])
        except (RuntimeError, KeyError) as exc:
            raise EmubenchError(
                f"{run_dir}: checkpoint does not match the manifest's model config ({str(exc).splitlines()[0]})"
            ) from None
        t = manifest["transform"]
        return cls(gen, get_transform(t["name"], **t.get("params", {})), device)

    def sample(
        self, n: int, *, seed: int, device: str | None = None, params: np.ndarray | None = None, batch: int = 256
    ) -> np.ndarray:
        """n maps (n, npix, npix) float32 in κ (the transform is inverted here). A conditional model needs
        ``params`` in physical units: one vector (P,) for all maps or one per map (n, P), in the order of
        ``parameters``; the latents are the same for a given seed whatever the parameters."""
        import torch

        from .networks import generate

        cfg = self.generator.cfg
        if cfg.params and params is None:
            raise EmubenchError(f"model {self.name!r} is conditioned on {', '.join(cfg.params)}: give params")
        theta = torch.from_numpy(cfg.scale_params(params, n)) if cfg.params else None
        device = device or self.device
        self.generator.to(device)
        gen = torch.Generator(device=device).manual_seed(seed)
        out = []
        with torch.no_grad():
            for s in range(0, n, batch):
                z = torch.randn(min(batch, n - s), cfg.latent, generator=gen, device=device)
                t = None if theta is None else theta[s : s + len(z)].to(device)
                out.append(generate(self.generator, z, self.transform, t).cpu().numpy())
        return np.concatenate(out).astype(np.float32)
