"""Score generated maps against real ones: every registered metric, each verdict a test at a stated rate.

The flow: dataset → train/val/test split → the model samples n maps → each metric compares them with n
validation maps (the reference); the same comparison for ``floor_draws`` real-vs-real draws (the null: sets
of fresh maps from the dataset's generator, or re-splits) calibrates each verdict, so that a perfect emulator
gets any flag with probability at most ``alpha`` → one tidy pandas table.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .contracts import CURVE_FIELDS, MetricResult
from .data import MapSet
from .errors import EmubenchError
from .io import failpoint
from .metrics.base import Context, NullDraws, min_draws
from .registry import get, get_registry

COLUMNS = [
    "model",
    "dataset",
    "n",
    "seed",
    "metric",
    "aspect",
    "statistic",
    "bin",
    "value",
    "ci_low",
    "ci_high",
    "ideal",
    "floor",
    "p_value",
    "flagged",
    "summary",
]
ALPHA = 0.05  # family-wise false-positive rate of a whole score (every verdict together)
NULL_DRAWS = 1000  # real-vs-real draws each verdict is calibrated on
POOL_FACTOR = 8  # fresh null pool: this many times n new maps (draws are n-subsets of generated ∪ pool)


def check_generated(
    generated: np.ndarray, npix: int, source: str = "generated maps", *, check_finite: bool = True
) -> np.ndarray:
    """Validate generated maps against the dataset geometry: (n, npix, npix), finite (unless ``check_finite`` is
    False, for maps whose values were checked already)."""
    from .io import check_maps

    maps = check_maps(np.asarray(generated), source, check_finite=check_finite)
    if maps.shape[-1] != npix:
        raise EmubenchError(f"{source}: maps are {maps.shape[-1]}x{maps.shape[-1]} but the dataset's are {npix}x{npix}")
    return maps


def declared_aspects(metric) -> tuple[str, ...]:
    """The verdicts a metric returns (its ``aspects``); a metric that declares none counts as one verdict."""
    return tuple(getattr(metric, "aspects", None) or ("default",))


def score(
    generated: np.ndarray,
    splits: dict[str, MapSet],
    *,
    metrics: list[str] | None = None,
    n: int | None = None,
    seed: int = 0,
    floor_draws: int = NULL_DRAWS,
    bootstrap_draws: int = 200,
    device: str = "cpu",
    model: str = "model",
    dataset: str | None = None,
    alpha: float = ALPHA,
    null: str = "auto",
    cache: dict | None = None,
) -> tuple[pd.DataFrame, Context]:
    """Compare ``generated`` (N, H, W) κ with the validation split; returns (tidy table, context with curves).

    n: maps per set (default: the whole validation split, at most len(generated)); the test split must
    have as many. Every (metric, aspect) verdict is a test at rate alpha / (number of verdicts), so a perfect
    emulator gets any flag at all with probability at most ``alpha`` (Bonferroni over verdicts, family-wise
    max-T within each; see ``metrics.base.calibrate``). The null is ``floor_draws`` real-vs-real comparisons:
    ``null="fresh"`` compares n maps drawn from generated ∪ POOL_FACTOR·n new maps of the dataset's generator
    with the fixed reference (the default wherever the dataset has a generator), ``"permutation"`` re-splits
    generated ∪ reference (see ``metrics.base.NullDraws``). ``p_value`` is the family-wise adjusted p-value of each
    summary row; ``ci_low``/``ci_high`` are 95% intervals where one is sound (per-bin rows, amplitudes,
    fractions). ``cache``: a dict kept across calls that score several emulators against the same splits, n,
    seed, floor_draws and null (it holds the fresh pool, its per-map statistics and the held-out neighbour
    distances, which do not depend on the generated maps).
    """
    val, test = splits["val"], splits["test"]
    generated = check_generated(generated, val.npix)
    n = int(n or min(len(val), len(test), len(generated)))
    if n < 2:
        raise EmubenchError(f"need at least 2 maps per set to score, got n={n}")
    for label, have in (("generated", len(generated)), ("validation", len(val)), ("test", len(test))):
        if have < n:
            raise EmubenchError(f"asked to score n={n} maps but the {label} set has only {have}")
    if not 0 < alpha < 1:
        raise EmubenchError(f"alpha must be between 0 and 1, got {alpha}")
    if null not in ("auto", "fresh", "permutation"):
        raise EmubenchError(f"unknown null {null!r} (auto, fresh or permutation)")
    if null == "fresh" and val.fresh is None:
        raise EmubenchError(
            f"dataset {val.name.split(':')[0]} has no generator: a fresh null is not possible, use the permutation null"
        )
    names = metrics or [e.name for e in get_registry("metrics")]
    instances = {name: get("metrics", name)() for name in names}
    n_verdicts = sum(len(declared_aspects(m)) for m in instances.values())
    alpha_verdict = alpha / max(1, n_verdicts)
    if floor_draws < min_draws(alpha_verdict):
        raise EmubenchError(
            f"{floor_draws} null draws cannot flag anything at {alpha_verdict:.3g} per verdict "
            f"(alpha {alpha} over {n_verdicts} verdicts): use --floor-draws {min_draws(alpha_verdict)} or more"
        )
    reference, heldout = val.head(n), test.head(n)
    cache = {} if cache is None else cache
    if "null" not in cache:
        pool = val.fresh(POOL_FACTOR * n, seed) if null != "permutation" and val.fresh is not None else None
        cache["null"] = NullDraws.make(n, floor_draws, seed, pool)
    pool = cache["null"].pool
    ctx = Context.from_reference(
        reference,
        val.side_deg,
        train=splits.get("train"),
        device=device,
        seed=seed,
        alpha=alpha_verdict,
        null=cache["null"],
        bootstrap_draws=bootstrap_draws,
        cache=cache,
    )
    rows, curves = [], []
    for name, metric in instances.items():
        ctx.curves = []  # what a metric written against the older contract appends to
        try:
            out = metric.evaluate(generated[:n], reference, heldout, ctx)
            result = out if isinstance(out, MetricResult) else MetricResult(list(out), ctx.curves)
            result = _checked(result, name)
        except EmubenchError:
            raise
        except Exception as exc:
            raise EmubenchError(f"metric {name!r} failed: {type(exc).__name__}: {exc}") from exc
        rows += [{"metric": name, **r} for r in result.rows]
        curves += [{**c, "metric": name} for c in result.curves]
        if result.extras:
            ctx.extras[name] = result.extras
    ctx.curves = curves
    if not rows:
        raise EmubenchError(f"no metric returned a row (metrics: {', '.join(instances)})")
    df = pd.DataFrame(rows)
    for col in ("aspect", "bin", "ideal", "summary", "flagged"):  # checked by _checked; defaults for older metrics
        if col not in df:
            df[col] = {"aspect": "default", "bin": np.nan, "ideal": np.nan, "summary": False, "flagged": False}[col]
    for col in ("ci_low", "ci_high", "p_value", "floor"):  # optional in a metric's rows: NaN
        if col not in df:
            df[col] = np.nan
    df["model"], df["dataset"], df["n"], df["seed"] = model, dataset or val.name.split(":")[0], n, seed
    ctx.extras["calibration"] = {
        "alpha": alpha,
        "verdicts": n_verdicts,
        "alpha_verdict": alpha_verdict,
        "null": ctx.null.kind,
        "null_draws": floor_draws,
        "null_pool": 0 if pool is None else len(pool),
    }
    return df[COLUMNS], ctx


def _checked(result: MetricResult, name: str) -> MetricResult:
    """A metric's result with the keys the table and the report need; a one-line error naming what is missing."""
    for i, r in enumerate(result.rows):
        for key in ("statistic", "value"):
            if key not in r:
                raise EmubenchError(f"metric {name!r}: row {i} has no {key!r} (rows need statistic, value, ...)")
    for i, c in enumerate(result.curves):
        missing = [k for k in CURVE_FIELDS if k not in c]
        if missing:
            raise EmubenchError(
                f"metric {name!r}: curve record {i} lacks {', '.join(missing)} (a curve record has "
                f"{', '.join(CURVE_FIELDS)})"
            )
    return result


def validate(
    maps: np.ndarray,
    splits: dict[str, MapSet],
    metrics: list[str],
    *,
    n: int | None = None,
    seed: int = 0,
    floor_draws: int = 200,
) -> dict[str, dict[str, dict[str, float]]]:
    """Training-time validation: ``metrics`` on ``maps`` (n, H, W) κ against the validation split, with the
    scoring code and a permutation null of ``floor_draws`` re-splits (enough to rank checkpoints; ``score``
    uses more and a fresh null).

    Returns {metric: {summary statistic: {"value", "floor", "p_value", "flagged"}}}, e.g.
    ``validate(maps, splits, ["power-spectrum"])["power-spectrum"]["rms-log-ratio"]["value"]``."""
    failpoint("validation")  # the reliability tests kill training here
    df, _ = score(
        maps,
        splits,
        metrics=metrics,
        n=n,
        seed=seed,
        floor_draws=floor_draws,
        bootstrap_draws=0,
        device="cpu",
        null="permutation",
    )
    out: dict[str, dict[str, dict[str, float]]] = {}
    for r in df[df["summary"]].itertuples():
        out.setdefault(r.metric, {})[r.statistic] = {
            "value": float(r.value),
            "floor": float(r.floor),
            "p_value": float(r.p_value),
            "flagged": bool(r.flagged),
        }
    return out


def verdicts(df: pd.DataFrame) -> pd.DataFrame:
    """One row per (metric, aspect): 'flag' if any summary row is flagged, else 'pass'; ``p_value`` is the
    verdict's family-wise p-value (the smallest adjusted p-value of its summary rows)."""
    out = []
    for (metric, aspect), g in df[df["summary"]].groupby(["metric", "aspect"], sort=False):
        flagged = g[g["flagged"]]
        p = g["p_value"].min() if "p_value" in g and g["p_value"].notna().any() else np.nan
        out.append(
            {
                "metric": metric,
                "aspect": aspect,
                "verdict": "flag" if len(flagged) else "pass",
                "p_value": p,
                "flagged": ", ".join(flagged["statistic"]) if len(flagged) else "",
            }
        )
    return pd.DataFrame(out, columns=["metric", "aspect", "verdict", "p_value", "flagged"])
