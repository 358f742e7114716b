"""The trainer contract, and finding the trainer of a model.

A trainer plugin is a class with ``name``, ``description``, ``models`` (names of the models it trains),
``presets`` (name -> dict of config overrides), ``default_preset``, and:

- ``make_config(preset, overrides) -> dict``: the preset merged with overrides; unknown preset or key is an error.
- ``train(request: TrainRequest) -> Path``: trains and writes a run folder (checkpoints, manifest with
  everything needed to rebuild the model, logs). The contract: ``emubench.contracts.Trainer``.

Below that, the parts every trainer needs and both reference plugins share (public, exported by ``emubench``):
the run folder checked, locked and cleaned up (``training_folder``), where a resumed run continues
(``resume_point``) and its time budget (``budget_left``, ``check_time_budget``), Ctrl-C that checkpoints
(``StopOnSignal``), CosmoGAN's pixel transform fitted on the training split, the per-epoch sample grid as PNG,
and per-epoch validation with the scoring code (``validate_generator``).
"""

from __future__ import annotations

import contextlib
import io
import math
import os
import shutil
import signal
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .errors import EmubenchError
from .registry import get_registry

if TYPE_CHECKING:
    from .data.base import MapSet
    from .runs import RunFolder


def find_trainer(model: str):
    """An instance of the trainer registered for ``model``."""
    models = get_registry("models")
    models.get(model)  # unknown model: one-line error with suggestions
    for entry in get_registry("trainers"):
        if model in getattr(entry.obj, "models", ()):
            return entry.obj()
    raise EmubenchError(
        f"model {model!r} has no registered trainer "
        f"(training-free models are scored directly: emubench score --model {model})"
    )


# -- the parts every trainer needs (public: ``emubench.StopOnSignal`` etc.; both reference plugins use them) ------


@contextlib.contextmanager
def training_folder(out: str | os.PathLike, resume: bool, lock: bool = True) -> Iterator[Path]:
    """The run folder ``out`` of a training, as a context: refused (one-line error) when it holds a run and this
    is no resume, or holds none and this is one; locked while the trainer writes it (``lock``: False on the
    ranks of a distributed run that write nothing); removed when a run that failed before writing anything left
    it empty, so that a failed start leaves no folder behind."""
    from .runs import RunFolder

    out = Path(out)
    if not resume and RunFolder.exists(out):
        raise EmubenchError(f"{out}: already holds a run; use --resume to continue it or choose another --out")
    if resume and not RunFolder.exists(out):
        raise EmubenchError(f"{out}: nothing to resume (no manifest.json)")
    fresh = not out.exists()
    try:
        with RunFolder.lock_folder(out) if lock else contextlib.nullcontext():
            yield out
    except BaseException:
        if lock and fresh and out.is_dir() and not any(out.iterdir()):
            shutil.rmtree(out, ignore_errors=True)  # only the lock was there, and it is gone: no empty run folder
        raise


def resume_point(run: RunFolder, log: Callable[[str], None]) -> tuple[dict | None, int, float | None, float]:
    """Where a resumed run continues: (the newest good checkpoint's state, its step, the best validation score so
    far, the seconds of training before it). A corrupt latest checkpoint is skipped (and said); a run killed
    before its first checkpoint starts again: (None, 0, None, 0.0); no good checkpoint at all is an error."""
    if not run.manifest["checkpoints"]:
        log("no checkpoint was written before the run stopped; starting it again from step 0")
        return None, 0, None, 0.0
    name = run.newest_good_checkpoint()
    if name is None:
        raise EmubenchError(f"{run.path}: no complete checkpoint to resume from (all recorded checkpoints are corrupt)")
    if run.latest != name:
        log(f"latest checkpoint {run.latest!r} is incomplete or corrupt; resuming from {name!r}")
    state = run.load_checkpoint(name)
    log(f"resumed from {name} at step {int(state['step'])}")
    seconds = float(run.manifest["checkpoints"][name].get("train_seconds") or 0.0)
    return state, int(state["step"]), run.manifest.get("best_score"), seconds


def budget_left(max_minutes: float | None, seconds: float) -> float:
    """Seconds left of a time budget (``max_minutes``, a trainer config field) after ``seconds`` of training; ≤ 0
    when it is spent, infinite without one. The loops stop on it, their ETA is at most it."""
    return 60 * float(max_minutes) - seconds if max_minutes else math.inf


def check_time_budget(out: str | os.PathLike, max_minutes: float | None, seconds_before: float) -> None:
    """Refuse to resume a run whose time budget (``max_minutes`` of training, a trainer config field) is spent."""
    if budget_left(max_minutes, seconds_before) <= 0:
        raise EmubenchError(
            f"{out}: its time budget of {max_minutes:g} min is spent ({seconds_before / 60:.1f} min); "
            "resume with a larger -c max_minutes=…"
        )


class StopOnSignal:
    """A context manager that turns SIGINT/SIGTERM into a flag: the loop checks ``flag`` between steps, writes a
    checkpoint and returns, so that Ctrl-C never leaves a half-written run. Outside the main thread (where no
    handler can be installed) it is a flag that nothing sets."""

    def __init__(self) -> None:
        self.flag = False
        self.old: dict[int, Any] = {}

    def __enter__(self) -> StopOnSignal:
        for sig in (signal.SIGINT, signal.SIGTERM):
            try:
                self.old[sig] = signal.signal(sig, self._handle)
            except ValueError:  # not the main thread
                pass
        return self

    def _handle(self, signum: int, frame: Any) -> None:
        self.flag = True

    def __exit__(self, *exc: Any) -> None:
        for sig, h in self.old.items():
            signal.signal(sig, h)


def fit_sample(train_maps: MapSet, *, spread: bool = False) -> np.ndarray:
    """The training maps (n, H, W) κ a pixel transform is fitted on: the first 512, or with ``spread`` (maps of
    several cosmologies, stored one cosmology after another) 2,048 spread evenly over the split, so that every
    cosmology's tails are in the fit."""
    if spread:
        return train_maps.get(np.unique(np.linspace(0, len(train_maps) - 1, 2048).astype(int)))
    return train_maps.get(slice(0, min(len(train_maps), 512)))


def fit_cosmogan_transform(
    train_maps: MapSet, *, spread: bool = False, shift: float | None = None, a: float | None = None
) -> dict[str, Any]:
    """CosmoGAN's s(x) = 2x/(x + a) − 1, x = κ + shift, fitted on training maps: a shift that makes κ positive
    (1.5 × the most negative κ) and ``a`` so that the median maps to 0; either can be given instead.

    Fitted on ``fit_sample(train_maps, spread=spread)``.
    Returns the transform as a run manifest records it: {"name": "cosmogan", "params": {"a", "shift"}}."""
    sample = fit_sample(train_maps, spread=spread)
    shift = shift if shift is not None else max(0.0, -float(sample.min())) * 1.5
    a = a if a is not None else float(np.median(sample + shift))
    return {"name": "cosmogan", "params": {"a": float(a), "shift": float(shift)}}


def grid_png(maps: np.ndarray, gap: int = 2) -> bytes:
    """A square grid of maps (n, H, W) as 8-bit greyscale PNG bytes, κ from its 1st to its 99.5th percentile
    mapped to black…white, ``gap`` white pixels between maps (a trainer's per-epoch sample grid).

    Written with Pillow (matplotlib's own image library) rather than matplotlib: importing and first drawing
    matplotlib cost about a second in every training process, which the tests start dozens of."""
    from PIL import Image

    k = int(math.ceil(math.sqrt(len(maps))))
    h, w = maps.shape[-2:]
    lo, hi = np.percentile(maps, [1, 99.5])
    grey = np.clip((np.asarray(maps, dtype=np.float64) - lo) / max(hi - lo, 1e-30), 0.0, 1.0)
    canvas = np.full((k * (h + gap) - gap, k * (w + gap) - gap), 255, dtype=np.uint8)
    for i, m in enumerate(grey):
        r, c = divmod(i, k)
        canvas[r * (h + gap) : r * (h + gap) + h, c * (w + gap) : c * (w + gap) + w] = np.rint(m * 255)
    buf = io.BytesIO()
    Image.fromarray(canvas).save(buf, format="PNG")
    return buf.getvalue()


def grid_params(n_params: int) -> np.ndarray:
    """16 parameter vectors (16, P) scaled to [-1, 1] for a conditional model's sample grid: 4 × 4 over the first
    two parameters' training ranges (rows: the first, columns: the second; others at the middle), or 16 steps
    of a single one."""
    if n_params == 1:
        return np.linspace(-1, 1, 16, dtype=np.float32)[:, None]
    g = np.zeros((16, n_params), dtype=np.float32)
    steps = np.linspace(-1, 1, 4, dtype=np.float32)
    g[:, 0], g[:, 1] = np.repeat(steps, 4), np.tile(steps, 4)
    return g


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


# What per-epoch validation measures: the scoring code's metrics (one implementation, as in `emubench score`).
VALIDATION_METRICS = ["pixel-ks", "power-spectrum", "memorisation"]


def validate_generator(
    generate: Callable[[int, np.ndarray | None], np.ndarray],
    splits: dict[str, MapSet],
    *,
    n: int,
    seed: int,
    params: Sequence[str] = (),
    param_range: tuple[Sequence[float], Sequence[float]] | None = None,
) -> dict[str, Any]:
    """A trainer's per-epoch validation: ``generate(n, theta)`` maps (n, H, W) κ against the validation split with
    the scoring code (``emubench.validate``): the pixel KS statistic, the power spectrum and the memorisation
    check, each beside its real-vs-real floor.

    Returns ``ks_D``, ``ks_floor``, ``ps_dev`` (RMS over ℓ bins of log(mean generated C_ℓ / mean real C_ℓ)),
    ``ps_dev_floor``, ``ps_chi2`` (χ²/dof), ``copies`` (the fraction of generated maps that are near-copies of a
    training map), ``copies_floor`` (the largest fraction the check passes at this n: above 1 it cannot flag yet)
    and ``copies_flagged`` (the memorisation verdict), and ``score``, which ranks checkpoints: how many floors away
    the worse of KS D and ps_dev is (lower is better; memorisation is recorded, not ranked on).

    A conditional generator (``params``: its parameter names; ``theta`` passed to ``generate`` in physical
    units, (P,)) is validated at ``validation_cosmologies``, each against the validation maps of that
    cosmology; the figures are those of the worst one, and two more keys show whether the parameters are
    learnt: ``cosmologies`` (each one's figures and its κ rms, real and generated) and ``response``
    ({parameter: {"real", "generated"}}: the change of ln κ rms from the middle to the top of that parameter's
    ``param_range`` (lo, hi), fitted over them)."""
    if not params:
        n = min(n, len(splits["val"]), len(splits["test"]))
        return _validate_at(generate(n, None), splits, n, seed)
    per = []
    for theta in validation_cosmologies(splits["val"]):
        at = {"train": splits["train"].at(theta), "val": splits["val"].at(theta), "test": splits["test"].at(theta)}
        k = min(n, len(at["val"]), len(at["test"]))
        maps = generate(k, theta)
        rms = {"rms_real": float(at["val"].get(slice(0, k)).std()), "rms_generated": float(np.std(maps))}
        per.append({**dict(zip(params, map(float, theta))), **_validate_at(maps, at, k, seed), **rms})
    worst = max(per, key=lambda v: v["score"])
    lo, hi = (np.asarray(r, dtype=np.float64) for r in param_range)
    x = np.column_stack([np.ones(len(per)), 2 * (np.array([[c[p] for p in params] for c in per]) - lo) / (hi - lo) - 1])
    response: dict[str, dict[str, float]] = {}
    for key, label in (("rms_real", "real"), ("rms_generated", "generated")):
        y = np.log(np.maximum([c[key] for c in per], 1e-30))
        slope = np.linalg.lstsq(x, y, rcond=None)[0][1:] if np.isfinite(y).all() else [math.nan] * len(params)
        for p, b in zip(params, slope):
            response.setdefault(p, {})[label] = float(b)
    return {**{k: worst[k] for k in _FIGURES}, "cosmologies": per, "response": response}


_FIGURES = (
    "ks_D",
    "ks_floor",
    "ps_dev",
    "ps_dev_floor",
    "ps_chi2",
    "copies",
    "copies_floor",
    "copies_flagged",
    "score",
)


def _validate_at(maps: np.ndarray, splits: dict[str, MapSet], n: int, seed: int) -> dict[str, float]:
    """``validate_generator``'s figures of ``maps`` against ``splits`` (at one cosmology)."""
    from .scoring import validate

    if not np.isfinite(maps).all():
        return {
            k: (math.nan if k.endswith("floor") else False if k.endswith("flagged") else math.inf) for k in _FIGURES
        }
    # memorisation in a call of its own: the KS and P(ℓ) floors then come from the same null draws as before it
    # was validated (a run's choice of best checkpoint, and so its scores, stay those of earlier releases)
    v = validate(maps, splits, VALIDATION_METRICS[:2], n=n, seed=seed)
    v |= validate(maps, splits, VALIDATION_METRICS[2:], n=n, seed=seed)
    ks, ps, chi2 = v["pixel-ks"]["D"], v["power-spectrum"]["rms-log-ratio"], v["power-spectrum"]["chi2-dof"]
    copies = v["memorisation"]["fraction-near-copies"]
    s = max(ks["value"] / max(ks["floor"], 1e-12), ps["value"] / max(ps["floor"], 1e-12))
    return {
        "ks_D": ks["value"],
        "ks_floor": ks["floor"],
        "ps_dev": ps["value"],
        "ps_dev_floor": ps["floor"],
        "ps_chi2": chi2["value"],
        "copies": copies["value"],
        "copies_floor": copies["floor"],
        "copies_flagged": copies["flagged"],
        "score": float(s),
    }


def conditioning(train_set: MapSet) -> dict[str, tuple]:
    """What a model trained on ``train_set`` is conditioned on: {"params": names, "param_lo": …, "param_hi": …}
    over the training range of each parameter (a parameter that does not vary gets a unit range), or empty
    tuples for maps of one cosmology (an unconditional model)."""
    if train_set.params is None or len(train_set.cosmologies()) < 2:
        return {"params": (), "param_lo": (), "param_hi": ()}
    lo, hi = train_set.params.min(0), train_set.params.max(0)
    lo, hi = np.where(hi > lo, lo, lo - 1), np.where(hi > lo, hi, hi + 1)
    return {
        "params": tuple(train_set.param_names),
        "param_lo": tuple(map(float, lo)),
        "param_hi": tuple(map(float, hi)),
    }


def scale_params(
    theta: Any, n: int, params: Sequence[str], lo: Sequence[float], hi: Sequence[float], *, model: str = "the model"
) -> np.ndarray:
    """Parameters (P,) for all n maps or (n, P) per map, in physical units, as a conditional network takes them:
    (n, P) float32, each parameter's training range [lo, hi] mapped to [-1, 1]. Raises a one-line error on a
    wrong shape or NaN."""
    theta = np.asarray(theta, dtype=np.float64)
    if theta.shape == (len(params),):
        theta = np.broadcast_to(theta, (n, len(params)))
    if theta.shape != (n, len(params)) or not np.isfinite(theta).all():
        raise EmubenchError(
            f"{model} is conditioned on {', '.join(params)}: params must be finite, of shape "
            f"({len(params)},) or ({n}, {len(params)}), got {theta.shape}"
        )
    lo, hi = np.asarray(lo), np.asarray(hi)
    return (2 * (theta - lo) / (hi - lo) - 1).astype(np.float32)
