"""``lognormal-cosmo``: lognormal κ maps across cosmologies, the design of training and held-out (Ωm, σ8).

The maps are made exactly as the default dataset's (``data.lognormal``: a shifted lognormal field on a parent
grid 4× larger, cut into crops), with C_ℓ and the shift λ at each cosmology from ``data.spectra`` (CAMB tables
interpolated in (Ωm, σ8); λ scaled with the empty-beam convergence). Each map carries its (Ωm, σ8)
(``MapSet.params``); ``meta["heldout_params"]`` names the held-out cosmologies, which ``split`` keeps out of
training.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np

from ..errors import EmubenchError
from ..io import load_npy, save_npy
from ..progress import Bar
from .base import MapSet, refuse_unknown_options
from .lognormal import cache_dir, fresh_seed, generate
from .spectra import cl_table, grid_digest

PARAM_NAMES = ("omega_m", "sigma8")

# The design of lognormal-cosmo: a 5 × 5 grid of training cosmologies over Ωm ∈ [0.20, 0.34], σ8 ∈ [0.70, 0.90],
# and four held-out cosmologies at the centres of grid cells, strictly inside the design (two central, two
# in cells next to opposite edges), never trained on.
TRAIN_OMEGA_M = (0.20, 0.235, 0.27, 0.305, 0.34)
TRAIN_SIGMA8 = (0.70, 0.75, 0.80, 0.85, 0.90)
TRAIN_COSMOLOGIES = tuple((om, s8) for om in TRAIN_OMEGA_M for s8 in TRAIN_SIGMA8)
HELDOUT_COSMOLOGIES = ((0.2525, 0.775), (0.2875, 0.825), (0.2175, 0.875), (0.3225, 0.725))


def cosmology_seed(seed: int, theta: tuple[float, float]) -> int:
    """The generator seed of one cosmology's maps: from the dataset seed and the parameters, so that a
    cosmology's maps do not depend on which others the design holds."""
    return int(np.random.SeedSequence([int(seed), *(round(x * 1e6) for x in theta)]).generate_state(1)[0])


class LognormalCosmoDataset:
    """Lognormal κ maps at the (Ωm, σ8) cosmologies of a design (or at one, with -D omega_m= -D sigma8=)."""

    name = "lognormal-cosmo"
    param_names = PARAM_NAMES
    description = "lognormal κ maps over a design of 25 training and 4 held-out (Ωm, σ8) cosmologies, 256² over 0.866°"
    defaults = dict(
        n_per_cosmology=256,
        npix=256,
        side_deg=0.866,
        parent_factor=4,
        z_source=1.0,
        seed=0,
        omega_m=None,
        sigma8=None,
    )

    def __init__(self, **options):
        refuse_unknown_options(self.name, options, self.defaults)
        p = {**self.defaults, **options}
        try:
            for key in ("n_per_cosmology", "npix", "parent_factor", "seed"):
                p[key] = int(p[key])
            for key in ("side_deg", "z_source"):
                p[key] = float(p[key])
            for key in ("omega_m", "sigma8"):
                p[key] = None if p[key] is None else float(p[key])
        except (TypeError, ValueError) as exc:
            raise EmubenchError(f"dataset {self.name!r}: bad option value ({exc})") from None
        if (p["omega_m"] is None) != (p["sigma8"] is None):
            raise EmubenchError(f"dataset {self.name!r}: give both omega_m and sigma8, or neither (the design)")
        if p["n_per_cosmology"] < 3 or p["npix"] < 8 or p["parent_factor"] < 1 or p["side_deg"] <= 0:
            raise EmubenchError(f"dataset {self.name!r}: invalid options {p}")
        self.params = p
        if p["omega_m"] is not None:
            cl_table(p["omega_m"], p["sigma8"])  # outside the tables: refused now, before any work

    @property
    def design(self) -> tuple[tuple[tuple[float, float], ...], tuple[tuple[float, float], ...]]:
        """(training cosmologies, held-out cosmologies) of this dataset."""
        p = self.params
        if p["omega_m"] is not None:
            return ((p["omega_m"], p["sigma8"]),), ()
        return TRAIN_COSMOLOGIES, HELDOUT_COSMOLOGIES

    def cache_path(self) -> Path:
        key = dict(self.params, version=2, tables=grid_digest())  # 2: the tensor-product spline of spectra.cl_table
        digest = hashlib.sha256(json.dumps(key, sort_keys=True, default=str).encode()).hexdigest()[:16]
        return cache_dir() / f"{self.name}-{digest}.npy"

    def load(self) -> MapSet:
        """Generate (first time) or memory-map (afterwards) the maps of every cosmology of the design, in design
        order, ``n_per_cosmology`` each; each map carries its (Ωm, σ8)."""
        p = self.params
        train, heldout = self.design
        thetas = [*train, *heldout]
        path = self.cache_path()
        if not path.exists():
            save_npy(path, self.generate_maps())
        params = np.repeat(np.array(thetas, dtype=np.float64), p["n_per_cosmology"], axis=0)
        meta = {"dataset": self.name, "options": dict(p), "heldout_params": [list(t) for t in heldout]}
        return MapSet(load_npy(path), p["side_deg"], self.name, meta, self.fresh, params, PARAM_NAMES)

    def generate_maps(self) -> np.ndarray:
        """All the dataset's maps, every cosmology of the design in design order (training, then held-out),
        ``n_per_cosmology`` each, (N, H, W) float32 κ, without touching the cache."""
        p = self.params
        train, heldout = self.design
        parts = []
        with Bar(self.name, total=len(train) + len(heldout), unit="cosmologies") as bar:
            for theta in [*train, *heldout]:
                parts.append(self._generate(theta, p["seed"], p["n_per_cosmology"]))
                bar.update()
        return np.concatenate(parts)

    def _generate(self, theta: tuple[float, float], seed: int, n_maps: int) -> np.ndarray:
        p = self.params
        return generate(
            n_maps,
            npix=p["npix"],
            side_deg=p["side_deg"],
            parent_factor=p["parent_factor"],
            z_source=p["z_source"],
            seed=cosmology_seed(seed, theta),
            spectrum=(float(theta[0]), float(theta[1])),
        )

    def fresh(self, n_maps: int, seed: int = 0, *, params=None) -> np.ndarray:
        """``n_maps`` new maps at ``params`` (Ωm, σ8), never among the dataset's own: their seed sequence starts
        from ``lognormal.fresh_seed`` (≥ 2³², never a dataset seed) and the parameters."""
        if params is None:
            raise EmubenchError(f"dataset {self.name!r}: fresh maps need the cosmology (params=(omega_m, sigma8))")
        theta = (float(params[0]), float(params[1]))
        return self._generate(theta, fresh_seed(self.params["seed"], seed), int(n_maps))


class LognormalCosmoDataset64(LognormalCosmoDataset):
    """The same design on a 64² grid over 0.866° (0.8' pixels), 512 maps per cosmology: CPU-sized."""

    name = "lognormal-cosmo-64"
    description = "lognormal κ maps over 25 training and 4 held-out (Ωm, σ8) cosmologies, 64² over 0.866°"
    defaults = dict(LognormalCosmoDataset.defaults, npix=64, n_per_cosmology=512)
