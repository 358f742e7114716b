"""Configuration of the reference DCGAN: the network (``DCGANConfig``) and a training run (``TrainConfig``,
which contains the network's), with the presets as ``dataclasses.replace`` of the defaults.

No torch here: the trainer registers, and checks ``-c key=value`` and presets, without loading it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any

import numpy as np

from emubench import EmubenchError, scale_params


@dataclass(frozen=True)
class DCGANConfig:
    npix: int = 256  # map side in pixels (must be divisible by 2**layers); set from the data when training
    latent: int = 64  # latent size (Table 3.2, CosmoGAN; the thesis's code used 100)
    width: int = 64  # channels of D's first / G's last hidden layer; doubles per layer
    layers: int = 4  # stride-2 (transposed) convolutions
    kernel: int = 5
    # Conditioning on cosmology, set from the data when the training maps span several cosmologies (empty: an
    # unconditional model, exactly CosmoGAN's): the parameter names, and each one's training range, which maps
    # it to [-1, 1] before it enters the networks.
    params: tuple[str, ...] = ()
    param_lo: tuple[float, ...] = ()
    param_hi: tuple[float, ...] = ()

    def __post_init__(self):
        if min(self.npix, self.latent, self.width, self.layers, self.kernel) < 1:
            raise EmubenchError(f"invalid DCGAN config {asdict(self)}")
        if self.npix % (2**self.layers):
            raise EmubenchError(f"npix={self.npix} is not divisible by 2**layers={2**self.layers}")
        for key in ("params", "param_lo", "param_hi"):  # a manifest's JSON lists become tuples
            object.__setattr__(self, key, tuple(getattr(self, key)))
        if not len(self.params) == len(self.param_lo) == len(self.param_hi):
            raise EmubenchError(f"invalid DCGAN config: params, param_lo, param_hi differ in length {asdict(self)}")
        if any(not hi > lo for lo, hi in zip(self.param_lo, self.param_hi)):
            raise EmubenchError(f"invalid DCGAN config: each parameter needs param_hi > param_lo {asdict(self)}")

    @property
    def base(self) -> int:
        return self.npix // 2**self.layers

    def scale_params(self, theta: np.ndarray, n: int) -> np.ndarray:
        """Parameters (P,) for all n maps or (n, P) per map, in physical units, as the networks take them:
        (n, P) float32, each parameter's training range mapped to [-1, 1]. Raises on a wrong shape or NaN."""
        return scale_params(theta, n, self.params, self.param_lo, self.param_hi, model="cosmogan-dcgan")


THESIS_SCHEDULE = ((30, 2e-5), (5, 5e-6), (5, 2e-6), (5, 1e-6), (5, 5e-7))  # (epochs, lr), thesis section 5.1


@dataclass(frozen=True)
class TrainConfig:
    # data
    dataset: str = "lognormal-lcdm"  # used when no --dataset/--data is given
    transform: str = "cosmogan"  # training units; a and shift fitted from the training split unless given
    transform_a: float | None = None
    transform_shift: float | None = None
    augment: bool = True  # a random D4 symmetry per real map
    # the network (its npix comes from the data)
    model: DCGANConfig = field(default_factory=DCGANConfig)
    # optimisation
    batch_size: int = 64
    epochs: int = 50
    max_steps: int | None = None  # stop after this many steps (a smaller budget than the epochs)
    # stop after this many minutes of the training loop's wall time, validation included (a time budget, to
    # compare models at equal cost); the steps it reached are in the manifest, and max_steps reproduces them
    max_minutes: float | None = None
    lr: float = 2e-4  # constant unless a schedule is given
    schedule: tuple | None = None  # ((epochs, lr), ...): overrides lr epoch by epoch
    beta1: float = 0.5
    beta2: float = 0.999
    flip: float = 0.03  # per-sample label flip probability (thesis 3%, CosmoGAN 1%)
    # conditional models: real maps shown with another map's parameters count as fakes, with this weight (and
    # the generated ones with 1 - mismatch): D must check that a map fits its parameters (Reed et al. 2016)
    mismatch: float = 0.5
    seed: int = 0  # weights, latents, label flips, augmentation and data order
    # checkpoints, validation, logging
    ckpt_every: int = 1000  # steps between checkpoints (plus one at every epoch end)
    keep_last: int = 3  # step checkpoints kept besides the best one
    log_every: int = 50
    val_maps: int = 256  # maps of the per-epoch validation
    early_stop: int = 0  # stop after this many epochs without a better validation score (0: off)
    # speed
    amp: Any = "auto"  # bf16 autocast: "auto" where bf16 is fast (CUDA; CPUs with AMX), or true/false
    channels_last: bool = True  # NHWC activations (faster convolutions on CUDA and, measured ~8%, on CPU)
    compile: bool = False  # torch.compile the two networks
    gpu_resident: bool = True  # keep the whole training split on the GPU when it fits
    preset: str = "thesis"  # the preset this config came from (recorded in the manifest)

    def __post_init__(self):
        for key in ("batch_size", "epochs", "log_every", "ckpt_every", "val_maps", "keep_last"):
            if int(getattr(self, key)) <= 0:
                raise EmubenchError(f"config {key} must be positive, got {getattr(self, key)}")
        if self.max_steps is not None and int(self.max_steps) <= 0:
            raise EmubenchError(f"config max_steps must be positive, got {self.max_steps}")
        if self.max_minutes is not None and not float(self.max_minutes) > 0:
            raise EmubenchError(f"config max_minutes must be positive, got {self.max_minutes}")
        if self.amp not in ("auto", True, False):
            raise EmubenchError(f"config amp must be auto, true or false, got {self.amp!r}")
        if not 0 <= float(self.flip) < 0.5:
            raise EmubenchError(f"config flip must be in [0, 0.5), got {self.flip}")
        if not 0 <= float(self.mismatch) < 1:
            raise EmubenchError(f"config mismatch must be in [0, 1), got {self.mismatch}")
        if self.schedule is not None:
            object.__setattr__(self, "schedule", tuple((int(e), float(lr)) for e, lr in self.schedule))

    def lr_at(self, epoch: int) -> float:
        """The learning rate of ``epoch`` (the schedule's, or the constant lr)."""
        done = 0
        for n_epochs, lr in self.schedule or ():
            done += n_epochs
            if epoch < done:
                return lr
        return self.schedule[-1][1] if self.schedule else float(self.lr)

    def to_dict(self) -> dict[str, Any]:
        """JSON-able, with the network's keys nested under ``model``."""
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TrainConfig:
        """The inverse of ``to_dict``; also reads the flat configs of older runs (latent, width, layers at the top)."""
        return cls().with_overrides(dict(d))

    def with_overrides(self, overrides: dict[str, Any]) -> TrainConfig:
        """This config with ``overrides`` (training keys, or the network's latent/width/layers/kernel, or a
        ``model`` dict); an unknown key is a one-line error listing the known ones."""
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
DATA_KEYS = ("npix", "params", "param_lo", "param_hi")  # set from the training data, not by -c
MODEL_KEYS = [f.name for f in fields(DCGANConfig) if f.name not in DATA_KEYS]
DEFAULT = TrainConfig()

PRESETS: dict[str, TrainConfig] = {
    # The thesis's final recipe: lr 2e-5 for 30 epochs, then 5 epochs each at 5e-6, 2e-6, 1e-6, 5e-7; flip 3%.
    "thesis": replace(DEFAULT, epochs=50, schedule=THESIS_SCHEDULE, lr=2e-5, flip=0.03, preset="thesis"),
    # CosmoGAN's recipe: constant 2e-4, 45 epochs, flip 1%.
    "cosmogan": replace(DEFAULT, epochs=45, lr=2e-4, flip=0.01, preset="cosmogan"),
    # CPU-sized: 64² maps over 0.866°, width 32. Trains on 2 CPU cores in a few minutes and visibly learns.
    # lr 1e-4: at 2e-4 the validation KS statistic swung between 0.04 and 0.23 from epoch to epoch (the thesis,
    # too, found CosmoGAN's 2e-4 unstable); at 1e-4 the power spectrum improved every epoch.
    "smoke": replace(
        DEFAULT,
        dataset="lognormal-lcdm-64",
        model=replace(DEFAULT.model, width=32),
        epochs=6,
        lr=1e-4,
        flip=0.03,
        val_maps=256,
        ckpt_every=200,
        log_every=25,
        preset="smoke",
    ),
}
# Conditioned on (Ωm, σ8): the same networks and recipes on maps of the 25 training cosmologies of the
# multi-cosmology datasets (the held-out ones stay out of training). The model is conditional because its
# training maps span several cosmologies; the presets only choose the data and the budget.
PRESETS |= {
    # CPU-sized, the smoke recipe on lognormal-cosmo-64 (8,950 training maps, 139 steps per epoch).
    "cosmo-smoke": replace(PRESETS["smoke"], dataset="lognormal-cosmo-64", epochs=4, preset="cosmo-smoke"),
    # GPU-sized, CosmoGAN's recipe at 256² on lognormal-cosmo (4,500 training maps, 70 steps per epoch); run on CPU
    # for 3 steps only (mechanics), never yet on a GPU.
    "cosmo": replace(PRESETS["cosmogan"], dataset="lognormal-cosmo", epochs=100, preset="cosmo"),
}
