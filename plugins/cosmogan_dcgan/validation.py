"""Validation at the end of every epoch: the scoring code's pixel KS and power spectrum (``emubench.validate``)
against the validation split, which ranks the checkpoints (``best``) and drives early stopping."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch

from emubench import MapSet
from emubench import validate as validate_maps

from .config import TrainConfig
from .networks import Generator, generate_eval


def validate(
    generator: Generator, transform: Any, splits: dict[str, MapSet], cfg: TrainConfig, device: str, seed: int
) -> dict[str, Any]:
    """Pixel KS and power-spectrum deviation of ``val_maps`` generated maps against the validation split.

    ``ps_dev`` is the RMS over ℓ bins of log(mean generated C_ℓ / mean real C_ℓ); ``ps_chi2`` the χ²/dof;
    ``score`` ranks checkpoints: how many floors away the worse of KS D and ps_dev is (lower is better).

    A conditional generator is validated at a few training cosmologies (``validation_cosmologies``: the
    centre and the corners of the design), each against the validation maps of that cosmology; the figures are
    those of the worst one, and two more keys show whether the parameters are learnt: ``cosmologies`` (each
    one's figures and its κ rms, real and generated) and ``response`` ({parameter: {"real", "generated"}}: the
    change of ln κ rms from the middle to the top of that parameter's training range, fitted over them)."""
    mcfg = generator.cfg
    if not mcfg.params:
        n = min(cfg.val_maps, len(splits["val"]), len(splits["test"]))
        return _validate_at(generator, transform, splits, n, device, seed)[0]
    per = []
    for theta in validation_cosmologies(splits["val"]):
        at = {"train": splits["train"].at(theta), "val": splits["val"].at(theta), "test": splits["test"].at(theta)}
        n = min(cfg.val_maps, len(at["val"]), len(at["test"]))
        v, maps = _validate_at(
            generator, transform, at, n, device, seed, torch.from_numpy(mcfg.scale_params(theta, n)).to(device)
        )
        rms = {"rms_real": float(at["val"].get(slice(0, n)).std()), "rms_generated": float(np.std(maps))}
        per.append({**dict(zip(mcfg.params, map(float, theta))), **v, **rms})
    worst = max(per, key=lambda v: v["score"])
    x = np.column_stack([np.ones(len(per)), mcfg.scale_params([[c[p] for p in mcfg.params] for c in per], len(per))])
    response = {}
    for key, label in (("rms_real", "real"), ("rms_generated", "generated")):
        y = np.log(np.maximum([c[key] for c in per], 1e-30))
        slope = np.linalg.lstsq(x, y, rcond=None)[0][1:] if np.isfinite(y).all() else [math.nan] * len(mcfg.params)
        for p, b in zip(mcfg.params, slope):
            response.setdefault(p, {})[label] = float(b)
    figures = ("ks_D", "ks_floor", "ps_dev", "ps_dev_floor", "ps_chi2", "score")
    return {**{k: worst[k] for k in figures}, "cosmologies": per, "response": response}


def _validate_at(
    generator: Generator,
    transform: Any,
    splits: dict[str, MapSet],
    n: int,
    device: str,
    seed: int,
    theta: torch.Tensor | None = None,
) -> tuple[dict[str, float], np.ndarray]:
    """``validate`` against ``splits`` (at one cosmology, ``theta`` (n, P) scaled, for a conditional generator):
    (figures, the n generated maps)."""
    z = torch.randn(n, generator.cfg.latent, generator=torch.Generator(device=device).manual_seed(seed), device=device)
    maps = generate_eval(generator, z, transform, theta)
    if not np.isfinite(maps).all():
        return {
            "ks_D": math.inf,
            "ks_floor": math.nan,
            "ps_dev": math.inf,
            "ps_dev_floor": math.nan,
            "ps_chi2": math.inf,
            "score": math.inf,
        }, maps
    v = validate_maps(maps, splits, ["pixel-ks", "power-spectrum"], n=n, seed=seed)
    ks, ps, chi2 = v["pixel-ks"]["D"], v["power-spectrum"]["rms-log-ratio"], v["power-spectrum"]["chi2-dof"]
    s = max(ks["value"] / max(ks["floor"], 1e-12), ps["value"] / max(ps["floor"], 1e-12))
    return {
        "ks_D": ks["value"],
        "ks_floor": ks["floor"],
        "ps_dev": ps["value"],
        "ps_dev_floor": ps["floor"],
        "ps_chi2": chi2["value"],
        "score": float(s),
    }, maps


def validation_cosmologies(val: MapSet) -> np.ndarray:
    """The training cosmologies (K, P) a conditional generator is validated at: the one nearest the centre of
    the design and the one nearest each corner (2**P of them), in units of each parameter's range. Held-out
    cosmologies are never used: they are the interpolation test of ``emubench score``."""
    thetas = np.array([t for t in val.cosmologies() if not val.is_heldout(t)])
    lo, hi = thetas.min(0), thetas.max(0)
    x = (thetas - lo) / np.where(hi > lo, hi - lo, 1.0)
    corners = np.array(np.meshgrid(*[[0.0, 1.0]] * thetas.shape[1], indexing="ij")).reshape(thetas.shape[1], -1).T
    picks = [int(np.argmin(((x - t) ** 2).sum(1))) for t in [np.full(thetas.shape[1], 0.5), *corners]]
    return thetas[sorted(set(picks), key=picks.index)]
