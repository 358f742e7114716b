"""Score generated maps against real ones: every registered metric, each verdict a test at a stated rate.

The flow: dataset → train/val/test split → the model samples n maps → each metric compares them with n
validation maps (the reference); the same comparison for ``floor_draws`` real-vs-real draws (the null: sets
of real maps outside the reference, ``metrics.null``) calibrates each verdict, so that a perfect emulator
gets any flag with probability at most ``alpha`` → one tidy pandas table.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from .compat import metric_result, with_row_defaults
from .contracts import CURVE_FIELDS, MetricResult, opt_in
from .data import MapSet
from .errors import EmubenchError
from .io import failpoint
from .metrics.base import Context, min_draws
from .metrics.null import choose_source, make_null
from .progress import Bar
from .registry import get, get_registry
from .settings import ALPHA, NULL_DRAWS, ScoreSettings

__all__ = ["ALPHA", "NULL_DRAWS", "ScoreSettings", "score", "score_cosmologies", "validate", "verdicts"]

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
    "one_sided",
]


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
    settings: ScoreSettings | None = None,
    *,
    model: str = "model",
    dataset: str | None = None,
    cache: dict | None = None,
    **options,
) -> tuple[pd.DataFrame, Context]:
    """Compare ``generated`` (N, H, W) κ with the validation split; returns (tidy table, context with curves).

    settings: ``ScoreSettings`` (n, seed, floor_draws, alpha, null, bootstrap_draws, device, metrics), or any of
    its fields as keyword ``options`` (``score(maps, splits, n=500, seed=1)``). n: maps per set (default: the whole
    validation split, at most len(generated)); the test split must have as many. Every (metric, aspect) verdict
    is a test at rate alpha / (number of verdicts), so a perfect emulator gets any flag at all with probability
    at most ``alpha`` (Bonferroni over verdicts, family-wise max-T within each; see ``metrics.base.calibrate``).
    The null is ``floor_draws`` real-vs-real comparisons: n real maps outside the reference against the same
    fixed reference, drawn from fresh maps of the dataset's generator (``null="fresh"``, the default wherever
    there is one) or from the training split (``"train"``); the generated maps are never part of it, so floors do
    not depend on the model (``metrics.null``). ``p_value`` is the family-wise adjusted p-value of each summary
    row; ``ci_low``/``ci_high`` are 95% intervals where one is sound (per-bin rows, amplitudes, fractions).
    ``cache``: a dict kept across calls that score several emulators against the same splits and settings (it
    holds the null's pool, its per-map statistics and the memorisation check's index, which do not depend on
    the generated maps); a call with other settings or another reference is refused.
    """
    settings = ScoreSettings.of(settings, **options)
    val, test = splits["val"], splits["test"]
    generated = check_generated(generated, val.npix)
    n = int(settings.n or min(len(val), len(test), len(generated)))
    if n < 2:
        raise EmubenchError(f"need at least 2 maps per set to score, got n={n}")
    for label, have in (("generated", len(generated)), ("validation", len(val)), ("test", len(test))):
        if have < n:
            raise EmubenchError(f"asked to score n={n} maps but the {label} set has only {have}")
    names = list(settings.metrics or default_metrics(splits))
    check_metrics_apply(names, splits)
    instances = {name: get("metrics", name)() for name in names}
    n_verdicts = sum(len(declared_aspects(m)) for m in instances.values())
    alpha_verdict = settings.alpha / max(1, n_verdicts)
    if settings.floor_draws < min_draws(alpha_verdict):
        raise EmubenchError(
            f"{settings.floor_draws} null draws cannot flag anything at {alpha_verdict:.3g} per verdict "
            f"(alpha {settings.alpha} over {n_verdicts} verdicts): use --floor-draws {min_draws(alpha_verdict)} or more"
        )
    reference, heldout = val.head(n), test.head(n)
    cache = {} if cache is None else cache
    # what the cached null, pool features and memorisation index depend on (besides the training split)
    key = (n, settings.floor_draws, settings.seed, choose_source(settings.null, val))
    key += (_fingerprint(reference), _fingerprint(heldout))
    if "null" not in cache:
        cache["null"], cache["key"] = make_null(splits, n, settings.floor_draws, settings.seed, settings.null), key
    elif cache.get("key") != key:
        raise EmubenchError(
            "this score cache holds the null of another reference or other settings (n, draws, seed, null): "
            "give each its own cache"
        )
    ctx = Context.from_reference(
        reference,
        val.side_deg,
        train=splits.get("train"),
        device=settings.device,
        seed=settings.seed,
        alpha=alpha_verdict,
        null=cache["null"],
        bootstrap_draws=settings.bootstrap_draws,
        cache=cache,
        params=None if val.params is None or not len(val) else val.params[0],
    )
    rows, ctx.curves = _evaluate(instances, generated[:n], reference, heldout, ctx)
    if not rows:
        raise EmubenchError(f"no metric returned a row (metrics: {', '.join(instances)})")
    df = with_row_defaults(pd.DataFrame(rows))  # optional keys, and older metrics' rows
    df["model"], df["dataset"], df["n"], df["seed"] = model, dataset or val.name.split(":")[0], n, settings.seed
    ctx.extras["calibration"] = {
        "alpha": settings.alpha,
        "verdicts": n_verdicts,
        "alpha_verdict": alpha_verdict,
        "null": ctx.null.source,
        "null_draws": settings.floor_draws,
        "null_pool": len(ctx.null.pool),
        "null_description": ctx.null.describe(),
    }
    return df[COLUMNS], ctx


def _evaluate(
    instances: dict, generated: np.ndarray, reference: np.ndarray, heldout: np.ndarray, ctx: Context
) -> tuple[list[dict], list[dict]]:
    """Every metric on the same (n, H, W) sets: (rows, curves), each with its metric's name; a metric's extras go
    to ``ctx.extras``. A metric that fails is named in a one-line error."""
    rows, curves = [], []
    with Bar("metrics", total=len(instances), unit="metrics") as bar:
        for name, metric in instances.items():
            bar.update(0, postfix=name)
            ctx.curves = []  # what a metric written against the older contract appends to
            try:
                out = metric.evaluate(generated, reference, heldout, ctx)
                result = _checked(metric_result(out, ctx.curves, name), name)
            except EmubenchError:
                raise
            except Exception as exc:
                raise EmubenchError(f"metric {name!r} failed: {type(exc).__name__}: {exc}") from exc
            rows += [{"metric": name, **r} for r in result.rows]
            curves += [{**c, "metric": name} for c in result.curves]
            if result.extras:
                ctx.extras[name] = result.extras
            bar.update()
    return rows, curves


def _fingerprint(maps: np.ndarray) -> str:
    """A hash of maps (the reference, the held-out set), so that a score cache is never reused against others."""
    import hashlib

    return hashlib.sha256(np.ascontiguousarray(maps, dtype=np.float32)).hexdigest()[:16]  # the buffer: no copy


def several_cosmologies(splits: dict[str, MapSet]) -> bool:
    """Whether the training maps carry parameters of more than one cosmology."""
    train = splits.get("train")
    return train is not None and len(train.cosmologies()) > 1


def default_metrics(splits: dict[str, MapSet]) -> list[str]:
    """Every registered metric, less those that need maps at several cosmologies (``needs_parameters``) when the
    training maps have one, and those that are opt-in (``default = False``: scored when named with --metric)."""
    several = several_cosmologies(splits)
    return [
        e.name
        for e in get_registry("metrics")
        if not opt_in(e.obj) and (several or not getattr(e.obj, "needs_parameters", False))
    ]


def check_metrics_apply(names: list[str], splits: dict[str, MapSet]) -> None:
    """A one-line error for a metric that needs maps at several cosmologies, asked for on data of one."""
    if several_cosmologies(splits):
        return
    for name in names:
        if getattr(get("metrics", name), "needs_parameters", False):
            raise EmubenchError(
                f"metric {name!r} needs a dataset of several cosmologies (e.g. --dataset lognormal-cosmo-64)"
            )


def score_cosmologies(
    sample: Callable[[int, int, np.ndarray], np.ndarray],
    splits: dict[str, MapSet],
    settings: ScoreSettings | None = None,
    *,
    model: str = "model",
    log: Callable[[str], None] | None = None,
    cosmologies: np.ndarray | None = None,
    shared: dict | None = None,
    extras: dict | None = None,
    **options,
) -> tuple[pd.DataFrame, list[dict], dict]:
    """Score an emulator at every cosmology of ``splits`` (maps with ``params``): at each, n generated maps
    against n validation maps of that cosmology, every verdict calibrated on that cosmology's own real-vs-real
    null (``score``, with its pool drawn at that cosmology). The training split, all cosmologies, is the
    context (the memorisation check's training maps, the parameter-bias likelihood).

    sample(n, seed, theta) -> (n, H, W) maps at parameters theta. Returns (scores: ``score``'s table for every
    cosmology, with a column per parameter and ``cosmology`` = "train" or "heldout"; curve records with the
    same keys; the calibration of one cosmology's score). Each cosmology's score is a family-wise test at
    ``alpha``; ``across_cosmologies`` of their ``cosmology_verdicts`` gives one verdict per (metric, aspect) and
    group.
    ``cosmologies``: score only these (K, P) (default: all of the validation split's). ``shared``: a dict of
    what depends on the training maps only (the parameter-bias likelihood), to keep across calls. ``extras``: a
    dict that receives, per cosmology (a tuple of its parameters), each metric's ``MetricResult.extras`` there
    (the parameter-bias posteriors the report draws as contours)."""
    settings = ScoreSettings.of(settings, **options)
    val = splits["val"]
    shared = {} if shared is None else shared  # what every cosmology shares (e.g. the parameter-bias likelihood)
    frames, curves, calibration = [], [], {}
    thetas = val.cosmologies() if cosmologies is None else np.atleast_2d(np.asarray(cosmologies, dtype=np.float64))
    with Bar("cosmologies", total=len(thetas), unit="cosmologies") as bar:
        for k, theta in enumerate(thetas):
            sub = {"train": splits["train"], "val": val.at(theta), "test": splits["test"].at(theta)}
            n_k = int(settings.n or min(len(sub["val"]), len(sub["test"])))
            generated = sample(n_k, settings.seed + 7919 * k, theta)  # another stream at each cosmology: independent
            df, ctx = score(generated, sub, settings.replace(n=n_k), model=model, cache={"shared": shared})
            group = "heldout" if val.is_heldout(theta) else "train"
            where = dict(zip(val.param_names, map(float, theta)))
            for name, value in where.items():
                df[name] = value
            df["cosmology"] = group
            frames.append(df)
            curves += [{**c, **where, "cosmology": group} for c in ctx.curves]
            if extras is not None:
                extras[tuple(map(float, theta))] = {k: v for k, v in ctx.extras.items() if k != "calibration"}
            calibration = ctx.extras["calibration"]
            if log:
                flagged = verdicts(df).query("verdict == 'flag'")
                marks = ", ".join(f"{r.metric}/{r.aspect}" for r in flagged.itertuples()) or "no flag"
                log(f"{group} cosmology {', '.join(f'{a}={b:g}' for a, b in where.items())}: {n_k} maps, {marks}")
            bar.update()
    return pd.concat(frames, ignore_index=True), curves, calibration


def cosmology_verdicts(scores: pd.DataFrame, param_names: list[str]) -> pd.DataFrame:
    """``verdicts`` at each cosmology of a ``score_cosmologies`` table, with its parameters and group."""
    per = []
    for key, g in scores.groupby([*param_names, "cosmology"], sort=False):
        v = verdicts(g)
        for name, value in zip([*param_names, "cosmology"], key):
            v[name] = value
        per.append(v)
    return pd.concat(per, ignore_index=True)


def across_cosmologies(per: pd.DataFrame, param_names: list[str], alpha: float = ALPHA) -> pd.DataFrame:
    """One verdict per (group, metric, aspect) over the cosmologies of a group ("train", "heldout"), from the
    verdicts at each cosmology (``per``: ``cosmology_verdicts`` of a ``score_cosmologies`` table).

    At each cosmology a verdict's p-value is valid (a perfect emulator gets p ≤ a with probability at most a)
    and independent across cosmologies (independent real maps, generated maps and null pools). Fisher's method
    combines the K p-values of a group: −2 Σ ln p_k is at most χ² with 2K degrees of freedom for a perfect
    emulator, and large when many cosmologies lean the same way, even when none is flagged on its own (a σ8
    bias of 2% is 1–2 posterior σ at one cosmology, many σ over 25). The summary verdict flags when the
    combined p-value is at most alpha / (V · groups) (V verdicts per score): a perfect emulator gets any summary
    flag with probability at most ``alpha``. Columns: cosmology, metric, aspect, cosmologies, flagged (at their
    own rate), p_value (combined), verdict, where (the cosmologies flagged on their own)."""
    from scipy.stats import chi2

    n_verdicts = per.groupby(["metric", "aspect"]).ngroups
    groups = per["cosmology"].nunique()
    out = []
    for (group, metric, aspect), g in per.groupby(["cosmology", "metric", "aspect"], sort=False):
        flags = g[g["verdict"] == "flag"]
        p_k = np.clip(g["p_value"].to_numpy(dtype=np.float64), 1e-300, 1.0)
        p = float(chi2.sf(-2 * np.log(p_k).sum(), 2 * len(p_k))) if np.isfinite(p_k).all() else float("nan")
        out.append(
            {
                "cosmology": group,
                "metric": metric,
                "aspect": aspect,
                "cosmologies": len(g),
                "flagged": len(flags),
                "p_value": p,
                "verdict": "flag" if p <= alpha / (n_verdicts * groups) else "pass",
                "where": where_text(flags, param_names),
            }
        )
    return pd.DataFrame(out)


def where_text(flags: pd.DataFrame, param_names: list[str]) -> str:
    """The cosmologies of ``flags`` (one row each, a column per parameter) as short text, grouped by the first
    parameter: ``omega_m=0.2: sigma8=0.7, 0.8; omega_m=0.27: sigma8=0.9`` (a 5 × 5 grid's 15 flags in one line
    a reader can scan, not 15 repeated pairs)."""
    if flags.empty or not param_names:
        return ""
    first, rest = param_names[0], param_names[1:]
    if not rest:
        return f"{first}=" + ", ".join(f"{v:g}" for v in sorted(flags[first]))
    groups = []
    for value, g in flags.sort_values(param_names).groupby(first, sort=True):
        if len(rest) == 1:
            others = f"{rest[0]}=" + ", ".join(f"{v:g}" for v in g[rest[0]])
        else:
            others = ", ".join("(" + ", ".join(f"{k}={r[k]:g}" for k in rest) + ")" for _, r in g.iterrows())
        groups.append(f"{first}={value:g}: {others}")
    return "; ".join(groups)


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
    scoring code and a null of ``floor_draws`` sets of training maps (enough to rank checkpoints; ``score`` uses
    more). ``splits`` needs "train" (at the validation maps' cosmology, or all of them), "val" and "test". The
    floors do not depend on the maps validated, so ``value / floor`` ranks checkpoints on one scale.

    Returns {metric: {summary statistic: {"value", "floor", "p_value", "flagged"}}}, e.g.
    ``validate(maps, splits, ["power-spectrum"])["power-spectrum"]["rms-log-ratio"]["value"]``."""
    failpoint("validation")  # the reliability tests kill training here
    settings = ScoreSettings(n=n, seed=seed, floor_draws=floor_draws, bootstrap_draws=0, null="train", metrics=metrics)
    df, _ = score(maps, splits, settings)
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
