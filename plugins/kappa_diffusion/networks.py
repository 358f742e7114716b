"""The denoiser and its samplers, on Hugging Face diffusers.

Why diffusers: its ``UNet2DModel`` is the DDPM U-Net (ResNet blocks, GroupNorm, attention at low resolution,
sinusoidal timestep embedding) that the κ-map diffusion papers use, and its ``DDPMScheduler``/``DDIMScheduler``
implement the forward process and both samplers exactly as published; they are kept up to date by a large
project, so emubench keeps ~60 lines instead of a U-Net and two samplers of its own. Its convolutions pad with
zeros: the default maps are crops of a larger field, not periodic, so circular padding would be wrong.

Conditioning on cosmology: the parameters, scaled to [-1, 1], pass through a two-layer MLP whose output is added
to the timestep embedding (``class_embed_type="identity"``); with ``resnet_time_scale_shift="scale_shift"`` that
embedding scales and shifts every ResNet block's features (FiLM, as in Diffusion-HMC).
"""

from __future__ import annotations

import torch
from torch import nn

from emubench import EmubenchError

from .config import UNetConfig

try:
    from diffusers import DDIMScheduler, DDPMScheduler, UNet2DModel
except ImportError as exc:  # the optional extra is missing: one line saying what to install
    raise EmubenchError(
        f"kappa-diffusion needs Hugging Face diffusers ({exc.name or exc}): pip install 'emubench[diffusion]'"
    ) from None


class Denoiser(nn.Module):
    """ε(x_t, t, θ): the noise in x_t (B, 1, npix, npix) at timesteps t (B,), given scaled parameters θ (B, P)."""

    def __init__(self, cfg: UNetConfig):
        super().__init__()
        self.cfg = cfg
        levels = len(cfg.channels)
        attn_last = cfg.attention and levels > 1
        down = ["DownBlock2D"] * (levels - 1) + ["AttnDownBlock2D" if attn_last else "DownBlock2D"]
        up = ["AttnUpBlock2D" if attn_last else "UpBlock2D"] + ["UpBlock2D"] * (levels - 1)
        emb = cfg.channels[0] * 4  # UNet2DModel's timestep-embedding width
        self.unet = UNet2DModel(
            sample_size=cfg.npix,
            in_channels=1,
            out_channels=1,
            block_out_channels=cfg.channels,
            layers_per_block=cfg.layers_per_block,
            down_block_types=tuple(down),
            up_block_types=tuple(up),
            norm_num_groups=cfg.groups,
            add_attention=cfg.attention,
            resnet_time_scale_shift="scale_shift",
            class_embed_type="identity" if cfg.params else None,
        )
        self.embed = None
        if cfg.params:
            self.embed = nn.Sequential(nn.Linear(len(cfg.params), emb), nn.SiLU(), nn.Linear(emb, emb))

    def forward(self, x: torch.Tensor, t: torch.Tensor, theta: torch.Tensor | None = None) -> torch.Tensor:
        if (theta is None) != (self.embed is None):
            raise EmubenchError("kappa-diffusion: give parameters exactly when the model is conditional")
        c = None if theta is None else self.embed(theta.to(x.dtype))
        return self.unet(x, t, class_labels=c).sample


def scheduler(cfg: UNetConfig, kind: str = "ddpm"):
    """The noise schedule of ``cfg`` as a diffusers scheduler: "ddpm" (training's forward process, and ancestral
    sampling) or "ddim" (deterministic sampling, η = 0). The predicted clean map is clipped to [-clip, clip], a
    little beyond the training maps' range."""
    common = {
        "num_train_timesteps": cfg.timesteps,
        "beta_schedule": cfg.beta_schedule,
        "clip_sample": True,
        "clip_sample_range": cfg.clip,
    }
    if kind == "ddim":
        return DDIMScheduler(**common, set_alpha_to_one=True)
    return DDPMScheduler(**common)


@torch.no_grad()
def denoise(
    model: Denoiser,
    n: int,
    *,
    generator: torch.Generator,
    theta: torch.Tensor | None = None,
    sampler: str = "ddim",
    steps: int = 50,
    device: str = "cpu",
    amp: bool = False,
) -> torch.Tensor:
    """n maps (n, npix, npix) in training units from pure noise in ``steps`` denoising steps; every random draw
    comes from ``generator``, so a seed gives the same maps. ``theta`` (n, P) scaled, for a conditional model."""
    was_training = model.training
    model.eval()
    sched = scheduler(model.cfg, sampler)
    sched.set_timesteps(steps)
    npix = model.cfg.npix
    x = torch.randn((n, 1, npix, npix), generator=generator, device=device)
    for t in sched.timesteps:
        with torch.autocast("cuda" if device.startswith("cuda") else "cpu", dtype=torch.bfloat16, enabled=amp):
            eps = model(x, t.to(device).expand(n), theta).float()
        x = sched.step(eps, t, x, generator=generator).prev_sample
    model.train(was_training)
    return x[:, 0]


def to_kappa(x: torch.Tensor, transform, clip: float) -> torch.Tensor:
    """Training units → κ: the sample clamped to [-clip, clip] (inside the range where the inverse is finite)."""
    return transform.inverse(x.float().clamp(-clip, clip))


class EMA:
    """An exponential moving average of a model's weights (and a copy of its buffers): what samples come from.

    The decay ramps up as min(decay, (1 + step)/(10 + step)), so that the average forgets the random start."""

    def __init__(self, model: nn.Module, decay: float):
        import copy

        self.model = copy.deepcopy(model).eval().requires_grad_(False)
        self.decay = decay

    @torch.no_grad()
    def update(self, model: nn.Module, step: int) -> None:
        d = min(self.decay, (1 + step) / (10 + step))
        for e, p in zip(self.model.parameters(), model.parameters()):
            e.lerp_(p.detach(), 1 - d)
        for e, b in zip(self.model.buffers(), model.buffers()):
            e.copy_(b)
