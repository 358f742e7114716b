"""Configuration of the diffusion reference model: the network and noise schedule (``UNetConfig``) and a training
run (``TrainConfig``, which contains the network's), with the presets as ``dataclasses.replace`` of the defaults.

No torch and no diffusers here: the trainer registers, and checks ``-c key=value`` and presets, without them.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any

import numpy as np

from emubench import EmubenchError, scale_params

SAMPLERS = ("ddim", "ddpm")
BETA_SCHEDULES = ("linear", "squaredcos_cap_v2")


@dataclass(frozen=True)
class UNetConfig:
    """The denoiser (diffusers' ``UNet2DModel``) and the forward process it was trained on."""

    npix: int = 256  # map side in pixels (divisible by 2**(levels - 1)); set from the data when training
    channels: tuple[int, ...] = (64, 128, 256, 512)  # channels per resolution level (Diffusion-HMC: 64·(1,2,4,8))
    layers_per_block: int = 2  # ResNet blocks per level
    attention: bool = True  # self-attention at the coarsest level and in the middle block
    groups: int = 32  # GroupNorm groups (divides every entry of channels)
    timesteps: int = 1000  # steps of the forward (noising) process
    beta_schedule: str = "linear"  # DDPM's linear β from 1e-4 to 0.02, or "squaredcos_cap_v2" (cosine)
    # The predicted clean map is clipped to [-clip, clip] in training units while sampling: 1.1 × the largest
    # |value| of the training maps, set from the data (the inverse transform of values beyond blows up).
    clip: float = 1.0
    # Conditioning on cosmology, set from the data (as for cosmogan-dcgan): the parameter names and each one's
    # training range, which maps it to [-1, 1] before an MLP adds it to the timestep embedding.
    params: tuple[str, ...] = ()
    param_lo: tuple[float, ...] = ()
    param_hi: tuple[float, ...] = ()

    def __post_init__(self):
        for key in ("channels", "params", "param_lo", "param_hi"):  # a manifest's JSON lists become tuples
            object.__setattr__(self, key, tuple(getattr(self, key)))
        if (
            not self.channels
            or min(self.npix, self.layers_per_block, self.groups, self.timesteps, *self.channels) < 1
            or self.clip <= 0
        ):
            raise EmubenchError(f"invalid diffusion network config {asdict(self)}")
        if self.npix % 2 ** (len(self.channels) - 1):
            raise EmubenchError(f"npix={self.npix} is not divisible by 2**{len(self.channels) - 1} (one per level)")
        if any(c % self.groups for c in self.channels):
            raise EmubenchError(f"groups={self.groups} must divide every entry of channels {self.channels}")
        if self.beta_schedule not in BETA_SCHEDULES:
            raise EmubenchError(f"beta_schedule must be one of {', '.join(BETA_SCHEDULES)}, got {self.beta_schedule!r}")
        if not len(self.params) == len(self.param_lo) == len(self.param_hi):
            raise EmubenchError(f"invalid diffusion config: params, param_lo, param_hi differ in length {asdict(self)}")

    def scale_params(self, theta: np.ndarray, n: int) -> np.ndarray:
        """Parameters (P,) or (n, P) in physical units as the network takes them: (n, P) float32 in [-1, 1]."""
        return scale_params(theta, n, self.params, self.param_lo, self.param_hi, model="kappa-diffusion")


@dataclass(frozen=True)
class TrainConfig:
    # data
    dataset: str = "lognormal-lcdm"  # used when no --dataset/--data is given
    # CosmoGAN's s(κ), fitted on the training split and divided by twice its standard deviation there (so that
    # the data's spread is about the noise's), or "identity"
    transform: str = "cosmogan"
    transform_a: float | None = None
    transform_shift: float | None = None
    augment: bool = True  # a random symmetry of the square (of 8) per training map
    # the network (its npix and parameters come from the data)
    model: UNetConfig = field(default_factory=UNetConfig)
    # optimisation: ε-prediction, mean squared error (Ho et al. 2020)
    batch_size: int = 32
    epochs: int = 100
    max_steps: int | None = None  # stop after this many steps (a smaller budget than the epochs)
    # stop after this many minutes of the training loop's wall time, validation included (a time budget, to
    # compare models at equal cost); the steps it reached are in the manifest, and max_steps reproduces them
    max_minutes: float | None = None
    lr: float = 2e-4  # Adam, constant after a linear warm-up
    warmup: int = 200  # optimiser steps of linear learning-rate warm-up
    grad_clip: float = 1.0  # the gradients' global norm is clipped to this
    ema: float = 0.999  # decay of the exponential moving average of the weights (what samples come from)
    seed: int = 0  # weights, noise, timesteps, augmentation and data order
    # sampling: what `emubench score` and `sample` use for this run
    sampler: str = "ddim"  # "ddim" (deterministic given the seed's noise, η = 0) or "ddpm" (ancestral)
    sample_steps: int = 50  # denoising steps when sampling
    # checkpoints, validation, logging
    ckpt_every: int = 500  # steps between checkpoints (plus one at every epoch end)
    keep_last: int = 3  # step checkpoints kept besides the best one
    log_every: int = 50
    val_maps: int = 256  # maps of the per-epoch validation
    val_steps: int = 20  # DDIM steps of the per-epoch validation's samples (cheaper than sample_steps)
    early_stop: int = 0  # stop after this many epochs without a better validation score (0: off)
    amp: Any = "auto"  # bf16 autocast: "auto" where bf16 is fast (CUDA; CPUs with AMX), or true/false
    preset: str = "hmc"  # the preset this config came from (recorded in the manifest)

    def __post_init__(self):
        for key in ("batch_size", "epochs", "log_every", "ckpt_every", "val_maps", "keep_last", "sample_steps"):
            if int(getattr(self, key)) <= 0:
                raise EmubenchError(f"config {key} must be positive, got {getattr(self, key)}")
        if int(self.val_steps) <= 0 or int(self.warmup) < 0:
            raise EmubenchError("config val_steps must be positive and warmup non-negative")
        if self.max_steps is not None and int(self.max_steps) <= 0:
            raise EmubenchError(f"config max_steps must be positive, got {self.max_steps}")
        if self.max_minutes is not None and not float(self.max_minutes) > 0:
            raise EmubenchError(f"config max_minutes must be positive, got {self.max_minutes}")
        if self.amp not in ("auto", True, False):
            raise EmubenchError(f"config amp must be auto, true or false, got {self.amp!r}")
        if not 0 <= float(self.ema) < 1:
            raise EmubenchError(f"config ema must be in [0, 1), got {self.ema}")
        if self.sampler not in SAMPLERS:
            raise EmubenchError(f"config sampler must be one of {', '.join(SAMPLERS)}, got {self.sampler!r}")
        if self.transform not in ("cosmogan", "identity"):
            raise EmubenchError(f"config transform must be cosmogan or identity, got {self.transform!r}")

    def lr_at(self, step: int) -> float:
        """The learning rate of optimiser step ``step`` (0-based): linear warm-up, then constant."""
        return float(self.lr) * min(1.0, (step + 1) / (self.warmup + 1))

    def to_dict(self) -> dict[str, Any]:
        """JSON-able, with the network's keys nested under ``model``."""
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TrainConfig:
        """The inverse of ``to_dict``."""
        return cls().with_overrides(dict(d))

    def with_overrides(self, overrides: dict[str, Any]) -> TrainConfig:
        """This config with ``overrides`` (training keys, or the network's keys, or a ``model`` dict); an unknown
        key is a one-line error listing the known ones."""
        overrides = dict(overrides)
        net = dict(overrides.pop("model", None) or {})
        for key in MODEL_KEYS:
            if key in overrides:
                net[key] = overrides.pop(key)
        unknown = set(overrides) - set(TRAIN_KEYS) | set(net) - set(MODEL_KEYS) - set(DATA_KEYS)
        if unknown:
            raise EmubenchError(
                f"unknown config key(s) {', '.join(sorted(unknown))} (known: {', '.join([*TRAIN_KEYS, *MODEL_KEYS])})"
            )
        return replace(self, **overrides, model=replace(self.model, **net))


TRAIN_KEYS = [f.name for f in fields(TrainConfig) if f.name != "model"]
DATA_KEYS = ("npix", "clip", "params", "param_lo", "param_hi")  # set from the training data, not by -c
MODEL_KEYS = [f.name for f in fields(UNetConfig) if f.name not in DATA_KEYS]
DEFAULT = TrainConfig()

# CPU-sized: 64² maps, a U-Net of four levels 16·(1, 2, 4, 4) with one ResNet block each (1.13M parameters), bf16
# where the CPU has AMX. Measured on the 2-core AMX machine: about 1 s per step of 32 maps.
SMOKE_NET = replace(DEFAULT.model, channels=(16, 32, 64, 64), layers_per_block=1, groups=8)

PRESETS: dict[str, TrainConfig] = {
    # The GPU recipe of Diffusion-HMC (Mudur et al. 2024) at 256²: U-Net 64·(1, 2, 4, 8), 1,000 steps, linear β,
    # Adam 2e-4, EMA 0.999. Never run in CI; bench/gpu.sh times it where a GPU is lent.
    "hmc": replace(DEFAULT, preset="hmc"),
    # The same recipe conditioned on (Ωm, σ8): lognormal-cosmo's 25 training cosmologies at 256².
    "cosmo": replace(DEFAULT, dataset="lognormal-cosmo", preset="cosmo"),
    # CPU-sized on lognormal-lcdm-64: trains on 2 CPU cores in about a quarter of an hour (see the README).
    "smoke": replace(
        DEFAULT,
        dataset="lognormal-lcdm-64",
        model=SMOKE_NET,
        epochs=3,
        lr=5e-4,
        warmup=100,
        ema=0.995,
        sample_steps=25,
        val_maps=128,
        val_steps=10,
        ckpt_every=150,
        log_every=25,
        preset="smoke",
    ),
}
# The smoke recipe conditioned on (Ωm, σ8) on lognormal-cosmo-64 (8,950 training maps, 279 steps an epoch): 1,116
# steps and validation at 5 cosmologies per epoch, estimated at 25 minutes on the 2-core CPU (not yet timed).
PRESETS["cosmo-smoke"] = replace(PRESETS["smoke"], dataset="lognormal-cosmo-64", epochs=4, preset="cosmo-smoke")
