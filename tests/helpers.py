"""Shared helpers of the tests (not fixtures)."""

import os
import sys

import numpy as np

# The DCGAN run the tests share (conftest's ``trained_run``) and the command the reliability tests repeat, kill
# and resume against it: a small network on 300 lognormal maps, a checkpoint every 3 steps, all of them kept.
TRAIN = [
    sys.executable,
    "-m",
    "emubench.cli",
    "-q",
    "train",
    "cosmogan-dcgan",
    "--preset",
    "smoke",
    "--dataset",
    "lognormal-lcdm-64",
    "-D",
    "n_maps=300",
    "-c",
    "width=8",
    "-c",
    "batch_size=16",
    "-c",
    "val_maps=32",
    "-c",
    "ckpt_every=3",
    "-c",
    "log_every=1",
    "-c",
    "keep_last=50",
    "--device",
    "cpu",
]
STEPS = 26  # two epochs of 13 steps: checkpoints at 3, 6, 9, 12, 13 (epoch end), 15, ...


def env_threads(**extra) -> dict:
    """The environment with the machine's default thread count (two here), as a user's run has: threaded kernels
    included (the suite's workers run on one thread each)."""
    env = {**os.environ, **extra}
    env.pop("OMP_NUM_THREADS", None)
    return env


def gaussian_field(n: int, npix: int, slope: float = -2.0, seed: int = 0, smooth: float | None = None) -> np.ndarray:
    """Periodic Gaussian random fields (unit variance), (n, npix, npix): power ∝ k^slope, or white noise
    smoothed by a Gaussian of ``smooth`` pixels."""
    rng = np.random.default_rng(seed)
    k = np.sqrt(np.fft.fftfreq(npix)[:, None] ** 2 + np.fft.fftfreq(npix)[None, :] ** 2)
    with np.errstate(divide="ignore"):
        amp = np.exp(-0.5 * (2 * np.pi * k * smooth) ** 2) if smooth else np.where(k > 0, k ** (slope / 2), 0.0)
    f = np.fft.ifft2(np.fft.fft2(rng.standard_normal((n, npix, npix))) * amp).real
    return f / f.std()
