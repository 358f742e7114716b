"""Convergence power spectra C_ℓ^κκ and the lognormal shift λ: the shipped CAMB tables and what interpolates them.

- ``cl_kappa_lcdm_zs1.txt``: C_ℓ of the default cosmology (CosmoGAN's), made by scripts/make_cl_table.py.
- ``cl_kappa_grid_zs1.txt``: C_ℓ on a grid of (Ωm, σ8) (scripts/make_cl_table.py --grid; Takahashi halofit,
  Limber, z_s = 1; h, Ωb, n_s, w fixed at the CosmoGAN values), interpolated cubically in (Ωm, ln σ8) and
  linearly in ln ℓ, all on ln C_ℓ; tests/test_cosmology.py checks ``cl_table`` against CAMB run at off-grid
  cosmologies (within 1% over 1,500 ≤ ℓ ≤ 30,000).

λ (the shift of κ = λ[exp(g − σ_g²/2) − 1], the minimum κ): at the default cosmology the fit of Hilbert,
Hartlap & Schneider (2011) to ray-traced maps; at other Ωm that value scaled with the empty-beam convergence,
the lowest κ a line of sight can have (a beam through empty space, the floor the lognormal shift stands for):

    κ_empty(Ωm, z_s) = (3/2) Ωm ∫_0^{z_s} dz/E(z) · D(z) (D_s − D(z)) / D_s · (1 + z),   D = χ H0/c,
    λ(z_s, Ωm) = λ_HHS(z_s) · κ_empty(Ωm, z_s) / κ_empty(0.26, z_s).

σ8 does not enter (the empty beam does not depend on it), so at (0.26, 0.798) the shift is the default one.
"""

from __future__ import annotations

import hashlib
import math
import os
from functools import lru_cache
from importlib import resources
from pathlib import Path

import numpy as np

from ..errors import EmubenchError

TABLE = "cl_kappa_lcdm_zs1.txt"
GRID_TABLE = "cl_kappa_grid_zs1.txt"
OMEGA_M_DEFAULT = 0.26  # the CosmoGAN cosmology, at which λ is Hilbert et al.'s


def kappa_shift(z_source: float) -> float:
    """λ: the lognormal shift (minimum κ) at source redshift z (Hilbert, Hartlap & Schneider 2011)."""
    z = z_source
    return 0.008 * z + 0.029 * z**2 - 0.0079 * z**3 + 0.00065 * z**4


def load_cl_table(path: str | os.PathLike | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(ℓ, C_ℓ [rad²]) of the shipped table, or of a two-column text file at ``path``."""
    if path is None:
        with resources.as_file(resources.files("emubench.data") / TABLE) as p:
            data = np.loadtxt(p)
    else:
        data = np.loadtxt(path)
    return data[:, 0], data[:, 1]


def cl_at(ell: np.ndarray, table: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    """C_ℓ interpolated log-log; 0 for ℓ = 0 and power-law extrapolation beyond the table's ends."""
    tl, tc = table
    ell = np.asarray(ell, dtype=np.float64)
    out = np.zeros_like(ell)
    pos = ell > 0
    x = np.log(ell[pos])
    lt, lc = np.log(tl), np.log(tc)
    y = np.interp(x, lt, lc)
    lo, hi = x < lt[0], x > lt[-1]
    y[lo] = lc[0] + (x[lo] - lt[0]) * (lc[1] - lc[0]) / (lt[1] - lt[0])
    y[hi] = lc[-1] + (x[hi] - lt[-1]) * (lc[-1] - lc[-2]) / (lt[-1] - lt[-2])
    out[pos] = np.exp(y)
    return out


@lru_cache(maxsize=1)
def load_cl_grid() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(ℓ (L,), Ωm values (A,), σ8 values (B,), ln C_ℓ (A, B, L)) of the shipped grid of CAMB tables."""
    with resources.as_file(resources.files("emubench.data") / GRID_TABLE) as p:
        text = Path(p).read_text()
        data = np.loadtxt(p)
    cols = next(line for line in text.splitlines() if "columns:" in line).split("=", 1)[1].split()
    pairs = [tuple(float(x) for x in c.split(",")) for c in cols]
    om, s8 = sorted({p[0] for p in pairs}), sorted({p[1] for p in pairs})
    lncl = np.empty((len(om), len(s8), len(data)))
    for j, (a, b) in enumerate(pairs):
        lncl[om.index(a), s8.index(b)] = np.log(data[:, 1 + j])
    return data[:, 0], np.array(om), np.array(s8), lncl


def cl_table(omega_m: float, sigma8: float) -> tuple[np.ndarray, np.ndarray]:
    """(ℓ, C_ℓ [rad²]) at (Ωm, σ8), interpolated between the shipped CAMB tables (cubic in Ωm and ln σ8, on
    ln C_ℓ). Outside the tables' grid: an error naming the range."""
    from scipy.interpolate import make_interp_spline

    ell, om, s8, lncl = load_cl_grid()
    if not (om[0] <= omega_m <= om[-1] and s8[0] <= sigma8 <= s8[-1]):
        raise EmubenchError(
            f"(omega_m={omega_m}, sigma8={sigma8}) is outside the C_ell tables "
            f"(omega_m {om[0]:g}..{om[-1]:g}, sigma8 {s8[0]:g}..{s8[-1]:g}); "
            "compute tables that cover it with scripts/make_cl_table.py --grid"
        )
    # a tensor-product cubic spline: along Ωm for every (σ8, ℓ) at once, then along ln σ8 (what
    # RegularGridInterpolator(method="cubic") computes, without its per-call cost of 0.19 s on this grid)
    along_om = make_interp_spline(om, lncl, k=3, axis=0)(omega_m)  # (B, L)
    return ell, np.exp(make_interp_spline(np.log(s8), along_om, k=3, axis=0)(math.log(sigma8)))


def empty_beam_kappa(omega_m: float, z_source: float, nz: int = 4096) -> float:
    """|κ_empty|: the convergence deficit of an empty beam to a source at ``z_source`` in flat ΛCDM."""
    z = np.linspace(0.0, z_source, nz + 1)
    inv_e = 1.0 / np.sqrt(omega_m * (1 + z) ** 3 + 1 - omega_m)
    d = np.concatenate([[0.0], np.cumsum((inv_e[1:] + inv_e[:-1]) / 2 * np.diff(z))])  # D(z) = χ H0/c
    f = inv_e * d * (d[-1] - d) / d[-1] * (1 + z)
    return float(1.5 * omega_m * np.sum((f[1:] + f[:-1]) / 2 * np.diff(z)))


def kappa_shift_at(z_source: float, omega_m: float) -> float:
    """λ at (z_s, Ωm): Hilbert et al.'s fit scaled with the empty-beam convergence (see the module docstring)."""
    return kappa_shift(z_source) * empty_beam_kappa(omega_m, z_source) / empty_beam_kappa(OMEGA_M_DEFAULT, z_source)


@lru_cache(maxsize=1)
def grid_digest() -> str:
    with resources.as_file(resources.files("emubench.data") / GRID_TABLE) as p:
        return hashlib.sha256(Path(p).read_bytes()).hexdigest()[:16]
