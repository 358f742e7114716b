"""The model (emulator) contract, and how the harness gets a model from what the user typed.

A model plugin is a class with ``name``, ``description`` and:

- ``sample(self, n, *, seed, device="cpu") -> np.ndarray``: n maps (n, H, W), float32, in κ.
- training-free models: ``@classmethod fit(cls, train: MapSet, *, seed=0) -> instance`` (seconds).
- trained models: ``@classmethod from_run(cls, run_dir, manifest, *, checkpoint=None, device="cpu")``,
  rebuilding the model from a run folder written by its trainer.

``emubench score --model X`` accepts a run folder, a checkpoint file inside one, or a registered name.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np

from .checkpoint import MANIFEST
from .data import MapSet
from .errors import EmubenchError
from .registry import get, get_registry
from .runs import RunFolder


def _run_of(spec: str) -> tuple[Path, str | None] | None:
    """(run folder, checkpoint name or None) if ``spec`` is a run folder or a checkpoint file in one, else None."""
    path = Path(spec)
    if path.is_dir():
        return path, None
    if path.is_file():
        if path.parent.name == "checkpoints" and (path.parent.parent / MANIFEST).exists():
            return path.parent.parent, path.stem
        raise EmubenchError(
            f"{spec}: a checkpoint file must sit in a run folder's checkpoints/ (with its {MANIFEST}) "
            "so the model can be rebuilt from its manifest"
        )
    return None


def check_model_spec(spec: str) -> tuple[RunFolder, str | None] | None:
    """The cheap checks of a --model argument, before any data is loaded: a run folder with a valid manifest
    naming a registered model that can load runs (and the checkpoint, if one is named), or a registered
    training-free model. A one-line error otherwise.

    Returns (the opened run, checkpoint name or None) for a run folder or a checkpoint file in one, None for a
    registered name."""
    found = _run_of(spec)
    if found is None:
        if spec not in get_registry("models") and any(sep in spec for sep in ("/", "\\", ".")):
            raise EmubenchError(f"{spec}: no such run folder or checkpoint file")
        cls = get("models", spec)
        if not hasattr(cls, "fit"):
            raise EmubenchError(
                f"model {spec!r} needs training first: emubench train {spec}, then score the run folder"
            )
        return None
    path, checkpoint = found
    run = RunFolder.open(path)
    cls = get("models", run.manifest["model"])
    if not hasattr(cls, "from_run"):
        raise EmubenchError(f"model {cls.name!r} cannot be loaded from a run folder")
    name = checkpoint or run.best or run.latest
    if name is None and run.manifest.get("checkpoints") == {}:
        raise EmubenchError(f"{path}: the run has no checkpoint yet (train it, or resume the training)")
    if name is not None and name not in run.manifest.get("checkpoints", {}):
        raise EmubenchError(
            f"{path}: no checkpoint {name!r} in the manifest "
            f"(have: {', '.join(run.manifest.get('checkpoints', {})) or 'none'})"
        )
    return run, checkpoint


def resolve_model(spec: str, train: MapSet | None, *, seed: int = 0, device: str = "cpu") -> tuple[Any, dict]:
    """Return (model instance, provenance dict) for a run folder, checkpoint file or registered name."""
    found = check_model_spec(spec)  # every one-line error about the spec itself comes from there
    if found is not None:
        run, checkpoint = found
        manifest = run.manifest
        cls = get("models", manifest["model"])
        model = cls.from_run(run.path, manifest, checkpoint=checkpoint, device=device)
        return model, {
            "model": cls.name,
            "run": str(run.path),
            "checkpoint": checkpoint or manifest.get("best") or manifest.get("latest"),
            "manifest": manifest,
        }
    cls = get("models", spec)
    if train is None:
        raise EmubenchError(f"model {spec!r} is fitted from a dataset's training split; give --dataset or --data")
    t0 = time.perf_counter()
    model = cls.fit(train, seed=seed)
    fit_seconds = time.perf_counter() - t0
    return model, {"model": cls.name, "fitted_on": train.name, "seed": seed, "fit_seconds": fit_seconds}


def reset_peak_memory(device: str) -> None:
    """Start measuring an accelerator's peak memory (nothing on CPU, where a process's peak is not the model's)."""
    if device.startswith("cuda"):
        import torch

        torch.cuda.reset_peak_memory_stats(device)


def peak_memory_mb(device: str) -> float | None:
    """The accelerator's peak allocated memory since ``reset_peak_memory`` in MiB; None on CPU."""
    if not device.startswith("cuda"):
        return None
    import torch

    return torch.cuda.max_memory_allocated(device) / 2**20


def model_cost(model: Any, provenance: dict, throughput: float, device: str, peak_mb: float | None = None) -> dict:
    """What a model cost, for its report and the leaderboard (score.json's ``cost``).

    parameters: ``model.n_parameters`` (the contract's optional size; None without it). training: from a run's
    manifest, the device, precision, processes, optimiser steps and training seconds to its last checkpoint
    (None for runs trained before emubench recorded them). fit_seconds: a training-free model's fit on the
    training split. sample_ms_per_map: sampling time per map on ``device``; sampling: how, where the model says
    (its optional ``sampling``, e.g. "DDIM, 50 steps": a diffusion model's cost depends on it). peak_memory_mb:
    the accelerator's peak while sampling (None on CPU).
    """
    size = getattr(model, "n_parameters", None)
    manifest = provenance.get("manifest")
    training = None
    if manifest:
        last = (manifest.get("checkpoints") or {}).get(manifest.get("latest") or "", {})
        training = {
            "device": manifest.get("device"),
            "precision": "bf16 autocast" if manifest.get("amp_bf16") else "fp32",
            "processes": int(manifest.get("world_size") or 1),
            "steps": last.get("step"),
            "seconds": last.get("train_seconds"),
        }
    return {
        "parameters": None if size is None else int(size),
        "training": training,
        "fit_seconds": provenance.get("fit_seconds"),
        "sample_ms_per_map": 1000.0 / throughput if np.isfinite(throughput) and throughput > 0 else None,
        "sample_device": device,
        "sampling": getattr(model, "sampling", None),
        "peak_memory_mb": peak_mb,
    }


def timed_sample(
    model: Any, n: int, *, seed: int, device: str = "cpu", warmup: int = 8, params: np.ndarray | None = None
) -> tuple[np.ndarray, float]:
    """Sample ``n`` maps and the throughput in maps/s (a small warm-up call is excluded from the timing).
    ``params``: the parameters of a conditional model's maps (passed only when given)."""
    kw = {} if params is None else {"params": params}
    if warmup:
        model.sample(min(warmup, n), seed=seed + 10_000, device=device, **kw)
    if device.startswith("cuda"):
        import torch

        torch.cuda.synchronize()
    t0 = time.perf_counter()
    maps = model.sample(n, seed=seed, device=device, **kw)
    dt = time.perf_counter() - t0
    name = getattr(model, "name", type(model).__name__)
    if not isinstance(maps, np.ndarray):
        raise EmubenchError(f"model {name!r}: sample() returned {type(maps).__name__}; the contract is a numpy array")
    if maps.ndim != 3 or len(maps) != n:
        raise EmubenchError(f"model {name!r}: sample({n}) returned shape {maps.shape}; the contract is ({n}, H, W)")
    if maps.dtype != np.float32:
        raise EmubenchError(f"model {name!r}: sample() returned {maps.dtype} maps; the contract is float32 κ")
    return maps, n / max(dt, 1e-9)
