"""The registered model ``kappa-diffusion``: the EMA denoiser of a trained run, sampling maps in κ.

The networks are in ``networks.py`` (torch and diffusers load when a run is loaded, not when the plugin
registers).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from emubench import EmubenchError, RunFolder, get_transform

from .config import SAMPLERS, TrainConfig, UNetConfig


class KappaDiffusion:
    """A denoising-diffusion model of κ maps (DDPM U-Net on diffusers), trained by `emubench train kappa-diffusion`."""

    name = "kappa-diffusion"
    description = (
        "denoising diffusion (DDPM U-Net of diffusers, ε-prediction, EMA weights) in CosmoGAN's transformed "
        "units; samples with DDIM or DDPM in the run's number of steps; conditional on (Ωm, σ8) when trained so"
    )

    def __init__(self, denoiser: Any, transform: Any, *, sampler: str, steps: int, amp: bool, device: str = "cpu"):
        self.denoiser = denoiser.to(device).eval()
        self.transform = transform
        self.device = device
        self.sampler, self.steps, self.amp = sampler, int(steps), bool(amp)
        # non-empty for a model trained on maps of several cosmologies: the harness then passes params to sample
        self.parameters: tuple[str, ...] = denoiser.cfg.params

    @property
    def n_parameters(self) -> int:
        """The denoiser's weights (the EMA copy that samples; training holds a second copy and Adam's moments)."""
        return sum(p.numel() for p in self.denoiser.parameters())

    @property
    def sampling(self) -> str:
        """How maps are drawn, for the cost columns: the sampler and its number of network evaluations."""
        return f"{self.sampler.upper()}, {self.steps} steps"

    @classmethod
    def from_run(cls, run_dir: str | Path, manifest: dict, *, checkpoint: str | None = None, device: str = "cpu"):
        """Rebuild the EMA denoiser from a run folder: config from the manifest, weights from a verified checkpoint;
        the sampler and its steps are the run's ``sampler`` and ``sample_steps``."""
        from .networks import Denoiser

        cfg = UNetConfig(**manifest["model_config"])
        train_cfg = TrainConfig.from_dict(manifest["train_config"])
        state = RunFolder(run_dir, manifest).load_checkpoint(checkpoint)
        denoiser = Denoiser(cfg)
        try:
            denoiser.load_state_dict(state["ema"])
        except (RuntimeError, KeyError) as exc:
            raise EmubenchError(
                f"{run_dir}: checkpoint does not match the manifest's model config ({str(exc).splitlines()[0]})"
            ) from None
        t = manifest["transform"]
        amp = bool(manifest.get("amp_bf16")) and device == manifest.get("device", "cpu")
        return cls(
            denoiser,
            get_transform(t["name"], **t.get("params", {})),
            sampler=train_cfg.sampler,
            steps=train_cfg.sample_steps,
            amp=amp,
            device=device,
        )

    def sample(
        self,
        n: int,
        *,
        seed: int,
        device: str | None = None,
        params: np.ndarray | None = None,
        batch: int = 256,
        sampler: str | None = None,
        steps: int | None = None,
    ) -> np.ndarray:
        """n maps (n, npix, npix) float32 in κ (the transform is inverted here), in ``steps`` denoising steps of
        ``sampler`` ("ddim" or "ddpm"; by default the run's). A conditional model needs ``params`` in physical
        units: one vector (P,) for all maps or one per map (n, P), in the order of ``parameters``; the noise is
        the same for a given seed whatever the parameters."""
        import torch

        from .networks import denoise, to_kappa

        cfg = self.denoiser.cfg
        sampler, steps = sampler or self.sampler, int(steps or self.steps)
        if sampler not in SAMPLERS or steps < 1:
            raise EmubenchError(
                f"sampler must be one of {', '.join(SAMPLERS)} with steps ≥ 1, got {sampler!r}, {steps}"
            )
        if cfg.params and params is None:
            raise EmubenchError(f"model {self.name!r} is conditioned on {', '.join(cfg.params)}: give params")
        theta = torch.from_numpy(cfg.scale_params(params, n)) if cfg.params else None
        device = device or self.device
        self.denoiser.to(device)
        gen = torch.Generator(device=device).manual_seed(seed)
        out = []
        for s in range(0, n, batch):
            b = min(batch, n - s)
            t = None if theta is None else theta[s : s + b].to(device)
            x = denoise(
                self.denoiser, b, generator=gen, theta=t, sampler=sampler, steps=steps, device=device, amp=self.amp
            )
            out.append(to_kappa(x, self.transform, cfg.clip).cpu().numpy())
        return np.concatenate(out).astype(np.float32)
