"""The embedded default dataset: lognormal ΛCDM convergence maps, generated on the spot.

Target: the nonlinear C_ℓ^κκ of a single source plane at z_s = 1 for the CosmoGAN cosmology, shipped as
``cl_kappa_lcdm_zs1.txt`` (made by scripts/make_cl_table.py with CAMB). A shifted lognormal field

    κ = λ [exp(g − σ_g²/2) − 1]

has ⟨κκ'⟩ = λ² (exp ξ_g − 1), so the Gaussian field g gets the correlation ξ_g = ln(1 + ξ_κ/λ²), computed on
the parent grid (and its spectrum clipped at zero where the transform makes it negative). The shift λ is the
minimum κ, from the fit of Hilbert, Hartlap & Schneider (2011): κ0(z) = 0.008 z + 0.029 z² − 0.0079 z³ + 0.00065 z⁴.
Parent fields are periodic (e.g. 1024² over 3.464°) and cut into non-overlapping crops (256² over 0.866°), so
maps are not periodic, like CosmoGAN's crops of ray-traced maps.

Maps are cached on disk under a folder keyed by a hash of every parameter, written atomically (two processes
filling the cache at once both end with the same correct file) and memory-mapped when read back.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ..errors import EmubenchError
from ..io import load_npy, save_npy
from ..progress import Bar
from .base import MapSet, refuse_unknown_options
from .spectra import cl_at, cl_table, kappa_shift, kappa_shift_at, load_cl_table

if TYPE_CHECKING:  # torch is imported on use, so that listing and checking plugins stays fast
    import torch


def grid_ell(n: int, side_deg: float) -> np.ndarray:
    """|ℓ| of every full-FFT mode of an n² grid of side ``side_deg``, shape (n, n)."""
    f = np.fft.fftfreq(n, d=1.0 / n) * (360.0 / side_deg)
    return np.sqrt(f[:, None] ** 2 + f[None, :] ** 2)


def gaussian_amplitude(c_kappa: np.ndarray, omega_pix: float, lam: float) -> tuple[np.ndarray, float]:
    """From the κ power on a full FFT grid (rad², shape (n, n)) to the Gaussian field's amplitude filter.

    Discrete flat-sky conventions: ⟨|FFT κ|²⟩ = C_ℓ N⁴/A and ξ = ifft2(C)/Ω_pix (A = area, Ω_pix = A/N²).
    Returns (sqrt(C_g/Ω_pix) (n, n), σ_g²).
    """
    n = c_kappa.shape[0]
    c_kappa = c_kappa.copy()
    c_kappa[0, 0] = 0.0
    xi_kappa = np.fft.ifft2(c_kappa).real / omega_pix
    xi_g = np.log1p(xi_kappa / lam**2)
    c_g = np.fft.fft2(xi_g).real * omega_pix
    c_g[0, 0] = 0.0
    c_g = np.clip(c_g, 0.0, None)
    var_g = c_g.sum() / (omega_pix * n * n)
    return np.sqrt(c_g / omega_pix), float(var_g)


@lru_cache(maxsize=64)
def gaussian_filter(
    n: int, side_deg: float, z_source: float, spectrum: str | tuple[float, float] | None = None
) -> tuple[np.ndarray, float, float]:
    """The Gaussian field's amplitude filter on an n² parent grid of side ``side_deg``, σ_g² and λ.

    ``spectrum``: None for the default cosmology's C_ℓ table; a path to another table (ℓ, C_ℓ columns); or
    (Ωm, σ8) for C_ℓ interpolated between the shipped CAMB tables, with λ scaled with Ωm
    (``emubench.data.spectra``)."""
    if spectrum is None or isinstance(spectrum, (str, os.PathLike)):
        lam, table = kappa_shift(z_source), load_cl_table(spectrum)
    else:
        lam, table = kappa_shift_at(z_source, spectrum[0]), cl_table(*spectrum)
    omega_pix = math.radians(side_deg / n) ** 2
    amp, var_g = gaussian_amplitude(cl_at(grid_ell(n, side_deg), table), omega_pix, lam)
    return amp, var_g, lam


def lognormal_fields(amp: np.ndarray, var_g: float, lam: float, generator: torch.Generator, device="cpu"):
    """Two independent lognormal κ fields (n, n) from one complex FFT (real and imaginary parts)."""
    import torch

    n = amp.shape[0]
    amp_t = torch.as_tensor(amp, dtype=torch.float32, device=device)
    # Complex white noise with E|w|² = 2N² per mode is the FFT of unit complex white noise in real space.
    w = torch.randn((n, n), generator=generator, device=device, dtype=torch.complex64) * (n * math.sqrt(2.0))
    field = torch.fft.ifft2(w * amp_t)
    return [_lognormal(part - var_g / 2, lam) for part in (field.real, field.imag)]


def _lognormal(g: torch.Tensor, lam: float) -> torch.Tensor:
    """λ (exp(g) − 1), in place on ``g`` (a fresh float32 tensor).

    On the CPU numpy computes the exponential: torch's (MKL) was seen to return different last bits on the
    first call in about one process in ten, so two processes filling the same cache wrote different maps.
    """
    if g.is_cuda:
        return g.exp_().sub_(1.0).mul_(lam)
    a = g.numpy()
    np.exp(a, out=a)
    a -= 1.0
    a *= lam
    return g


def generate(
    n_maps: int,
    *,
    npix: int = 256,
    side_deg: float = 0.866,
    parent_factor: int = 4,
    z_source: float = 1.0,
    seed: int = 0,
    spectrum: str | tuple[float, float] | None = None,
    device: str | torch.device = "cpu",
) -> np.ndarray:
    """``n_maps`` lognormal κ maps, (n_maps, npix, npix) float32, deterministic in ``seed``, with the C_ℓ of
    ``spectrum``: None for the default cosmology, a C_ℓ table's path, or (Ωm, σ8) (``gaussian_filter``).

    Each complex FFT of a parent grid gives two independent real Gaussian fields (real and imaginary parts),
    so one transform makes 2·parent_factor² crops.
    """
    import torch

    n = npix * parent_factor
    amp, var_g, lam = gaussian_filter(n, side_deg * parent_factor, z_source, spectrum)
    gen = torch.Generator(device=device).manual_seed(int(seed))
    out = np.empty((n_maps, npix, npix), dtype=np.float32)
    done = 0
    with Bar("lognormal κ maps", total=n_maps, unit="maps") as bar:
        while done < n_maps:
            for kappa in lognormal_fields(amp, var_g, lam, gen, device):
                crops = kappa.reshape(parent_factor, npix, parent_factor, npix).transpose(1, 2).reshape(-1, npix, npix)
                take = min(len(crops), n_maps - done)
                out[done : done + take] = crops[:take].cpu().numpy()
                done += take
                bar.update(take)
                if done >= n_maps:
                    break
    return out


def fresh_seed(dataset_seed: int, seed: int) -> int:
    """The generator seed of a dataset's fresh maps number ``seed``: ≥ 2³², derived from (dataset seed, ``seed``),
    so never a dataset seed (the user's small integers) and never the same stream as the dataset's own maps."""
    return int(np.random.SeedSequence([int(dataset_seed), 0x66726573, int(seed)]).generate_state(1)[0]) + 2**32


def cache_dir() -> Path:
    return Path(os.environ.get("EMUBENCH_CACHE", Path.home() / ".cache" / "emubench"))


class LognormalDataset:
    """Lognormal ΛCDM κ maps (z_s=1, CosmoGAN cosmology), 256² over 0.866°, generated and cached locally."""

    name = "lognormal-lcdm"
    description = "lognormal ΛCDM κ maps at z_s=1 (CosmoGAN cosmology), 256² over 0.866°, made on the spot"
    defaults = dict(n_maps=4096, npix=256, side_deg=0.866, parent_factor=4, z_source=1.0, seed=0, table=None)

    def __init__(self, **options):
        refuse_unknown_options(self.name, options, self.defaults)
        self.params = {**self.defaults, **options}
        for key in ("n_maps", "npix", "parent_factor", "seed"):
            self.params[key] = int(self.params[key])
        for key in ("side_deg", "z_source"):
            self.params[key] = float(self.params[key])
        p = self.params
        if p["n_maps"] < 3 or p["npix"] < 8 or p["parent_factor"] < 1 or p["side_deg"] <= 0 or p["z_source"] <= 0:
            raise EmubenchError(f"dataset {self.name!r}: invalid options {p}")

    def cache_path(self) -> Path:
        key = dict(self.params, version=2)  # 2: numpy's exponential on the CPU (identical in every process)
        if key["table"]:
            key["table_sha"] = hashlib.sha256(Path(key["table"]).read_bytes()).hexdigest()
        digest = hashlib.sha256(json.dumps(key, sort_keys=True, default=str).encode()).hexdigest()[:16]
        return cache_dir() / f"{self.name}-{digest}.npy"

    def load(self) -> MapSet:
        """Generate (first time) or memory-map (afterwards) the maps; returns a MapSet."""
        p = self.params
        path = self.cache_path()
        if not path.exists():
            save_npy(path, self.generate_maps())  # atomic: concurrent writers each rename a complete, identical file
        return MapSet(load_npy(path), p["side_deg"], self.name, {"dataset": self.name, "options": dict(p)}, self.fresh)

    def generate_maps(self) -> np.ndarray:
        """All the dataset's maps, (n_maps, npix, npix) float32, without touching the cache."""
        p = self.params
        return generate(
            p["n_maps"],
            npix=p["npix"],
            side_deg=p["side_deg"],
            parent_factor=p["parent_factor"],
            z_source=p["z_source"],
            seed=p["seed"],
            spectrum=p["table"],
        )

    def fresh(self, n_maps: int, seed: int = 0) -> np.ndarray:
        """``n_maps`` new maps of this dataset's distribution, never among its own: generator seeds ≥ 2³²,
        derived from (dataset seed, ``seed``), while dataset seeds are the user's small integers."""
        p = self.params
        return generate(
            int(n_maps),
            npix=p["npix"],
            side_deg=p["side_deg"],
            parent_factor=p["parent_factor"],
            z_source=p["z_source"],
            seed=fresh_seed(p["seed"], seed),
            spectrum=p["table"],
        )


class LognormalDataset64(LognormalDataset):
    """The same lognormal ΛCDM maps on a coarser 64² grid over 0.866° (0.8' pixels), for CPU-sized models."""

    name = "lognormal-lcdm-64"
    description = "lognormal ΛCDM κ maps, 64² over 0.866° (0.8' pixels): small enough to train on a CPU"
    defaults = dict(LognormalDataset.defaults, npix=64, n_maps=8192)
