"""Score generated maps against real ones: every registered metric, each against its real-vs-real floor.

The flow: dataset → train/val/test split → the model samples n maps → each metric compares them with n
validation maps (the reference), and the same metric between the validation and n test maps (re-split at
random ``floor_draws`` times) gives the floor → one tidy pandas table.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .data import MapSet
from .errors import EmubenchError
from .metrics.base import Context
from .registry import get, get_registry

COLUMNS = ["model", "dataset", "n", "seed", "metric", "aspect", "statistic", "bin", "value", "ci_low", "ci_high", "ideal", "floor", "flagged", "summary"]


def check_generated(generated: np.ndarray, npix: int, source: str = "generated maps") -> np.ndarray:
    """Validate generated maps against the dataset geometry: (n, npix, npix), finite."""
    from .io import check_maps

    maps = check_maps(np.asarray(generated), source)
    if maps.shape[-1] != npix:
        raise EmubenchError(f"{source}: maps are {maps.shape[-1]}x{maps.shape[-1]} but the dataset's are {npix}x{npix}")
    return maps


def score(generated: np.ndarray, splits: dict[str, MapSet], *, metrics: list[str] | None = None,
          n: int | None = None, seed: int = 0, floor_draws: int = 100, bootstrap_draws: int = 200, device: str = "cpu",
          model: str = "model", dataset: str | None = None) -> tuple[pd.DataFrame, Context]:
    """Compare ``generated`` (N, H, W) κ with the validation split; returns (tidy table, context with curves).

    n: maps per set (default: the whole validation split, at most len(generated)); the test split must
    have as many. Rows with ``flagged`` True are worse than ``floor`` (real-vs-real variation) allows;
    ``ci_low``/``ci_high`` are 95% bootstrap intervals of ``value`` (``bootstrap_draws`` resamples of the
    generated and reference maps; NaN for pixel-ks, whose every resample is a pass over all pixels).
    """
    val, test = splits["val"], splits["test"]
    generated = check_generated(generated, val.npix)
    n = int(n or min(len(val), len(test), len(generated)))
    if n < 2:
        raise EmubenchError(f"need at least 2 maps per set to score, got n={n}")
    for label, have in (("generated", len(generated)), ("validation", len(val)), ("test", len(test))):
        if have < n:
            raise EmubenchError(f"asked to score n={n} maps but the {label} set has only {have}")
    reference, heldout = val.head(n), test.head(n)
    ctx = Context.from_reference(reference, val.side_deg, train=splits.get("train"), device=device, seed=seed,
                                 floor_draws=floor_draws, bootstrap_draws=bootstrap_draws)
    names = metrics or [e.name for e in get_registry("metrics")]
    rows = []
    for name in names:
        metric = get("metrics", name)()
        try:
            out = metric.evaluate(generated[:n], reference, heldout, ctx)
        except EmubenchError:
            raise
        except Exception as exc:
            raise EmubenchError(f"metric {name!r} failed: {type(exc).__name__}: {exc}") from exc
        rows += [{"metric": name, **r} for r in out]
    df = pd.DataFrame(rows)
    for col in ("ci_low", "ci_high"):  # optional in a metric's rows: no interval is NaN
        if col not in df:
            df[col] = np.nan
    df["model"], df["dataset"], df["n"], df["seed"] = model, dataset or val.name.split(":")[0], n, seed
    return df[COLUMNS], ctx


def verdicts(df: pd.DataFrame) -> pd.DataFrame:
    """One row per (metric, aspect): 'flag' if any summary row is worse than its floor, else 'pass'."""
    out = []
    for (metric, aspect), g in df[df["summary"]].groupby(["metric", "aspect"], sort=False):
        flagged = g[g["flagged"]]
        out.append({"metric": metric, "aspect": aspect, "verdict": "flag" if len(flagged) else "pass",
                    "flagged": ", ".join(flagged["statistic"]) if len(flagged) else ""})
    return pd.DataFrame(out, columns=["metric", "aspect", "verdict", "flagged"])
