"""One scored model's report folder: scores.csv (+ .parquet), curves.csv, score.json, summary.md, report.html.

report.html is rendered by Jinja2 from ``templates/report.html.j2``: verdict cards, one section per metric with
its summary table beside its plots, the samples, and the manifest; images are embedded (PNG, 150 dpi), so the
page is one self-contained file that can be mailed; each figure's vector copy (PDF, for a paper) is written
beside it under figures/ and linked from its caption.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..contracts import Plot
from ..errors import EmubenchError
from ..io import atomic_folder, atomic_path, write_bytes, write_json, write_text
from ..scoring import verdicts
from .display import Display, resolve
from .plots import (
    DPI,
    covariance_figure,
    curve_figure,
    history_figure,
    margin_figure,
    pairs_figure,
    png,
    samples_figure,
)
from .reach import reach_note, smallest_per_flaw
from .tables import cost_text, flatten, fmt, fmt_p, fmt_rate, metric_rows, verdict_cards

SCORES, CURVES, INFO = "scores.csv", "curves.csv", "score.json"

METHOD = (
    "Each verdict is a test at the rate above, family-wise over its summary rows (max-T over the null draws). A "
    "row is flagged when its adjusted p-value is at most the verdict's rate, i.e. when |value − ideal| exceeds its "
    "floor (value − ideal for the memorisation fraction, whose null is the exact beta-binomial); ×floor is "
    "|value − ideal| / floor, so a row is flagged near 1× and above. `ideal` is what a perfect emulator scores on "
    "average. Per-bin rows (in scores.csv) are informational and never flagged. The 95% CI is a percentile "
    "bootstrap over the generated and reference maps for per-bin rows ({boot} resamples), ±1.96σ for the "
    "power-spectrum amplitude, exact binomial for the memorisation fractions; distances such as χ² or RMS "
    "differences get none (their percentile bootstrap is biased upward and can exclude the estimate)."
)


def environment():
    """The Jinja2 environment of the report templates (autoescaped: labels and manifests are user text)."""
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.PackageLoader("emubench.report", "templates"),
        autoescape=jinja2.select_autoescape(["html", "j2"]),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["css_width"] = css_width
    return env


def facts(info: dict) -> list[tuple[str, str]]:
    """The header facts of a score: dataset, sizes, the null, the false-positive rates, seeds, throughput."""
    cal = info.get("calibration") or {}
    # scores written before the null became real maps only have no description: say what they were
    null_text = cal.get("null_description") or {
        "fresh": f"{cal.get('null_draws')} draws of n of generated ∪ {cal.get('null_pool')} fresh maps (an older "
        "null, which included the generated maps)",
        "permutation": f"{cal.get('null_draws')} random re-splits of generated ∪ reference maps (an older null)",
    }.get(cal.get("null"), f"{info.get('floor_draws')} draws")
    rate = info.get("throughput_maps_per_s", float("nan"))
    return [
        (
            "dataset",
            f"{info.get('dataset')} (hash {info.get('dataset_hash')}, split seed {info.get('split_seed')}, "
            f"map side {info.get('side_deg')}°, {info.get('npix')}² pixels)",
        ),
        ("maps per set", f"{info.get('n')} generated vs {info.get('n')} validation"),
        ("null", null_text),
        (
            "false-positive rate",
            f"{fmt(cal.get('alpha', float('nan')))} for the whole score, "
            f"{fmt(cal.get('alpha_verdict', float('nan')))} for each of its {cal.get('verdicts')} verdicts",
        ),
        ("sample seed", str(info.get("seed"))),
        ("throughput", f"{fmt_rate(rate)} maps/s on {info.get('device')}" if np.isfinite(rate) else "—"),
        ("cost", cost_text(info)),
        ("emubench", str(info.get("emubench_version"))),
    ]


def null_draws(info: dict) -> int | None:
    """The null draws of a score: its p-values are multiples of 1/(draws + 1), the smallest only a bound."""
    draws = (info.get("calibration") or {}).get("null_draws") or info.get("floor_draws")
    return int(draws) if draws else None


def verdicts_markdown(scores: pd.DataFrame, info: dict) -> str:
    """The header facts and the verdicts as Markdown: the top of summary.md, and what ``emubench score`` prints."""
    draws = null_draws(info)
    lines = [f"# emubench score: {info.get('model')}", ""]
    lines += [f"- {k}: {v}" for k, v in facts(info)]
    lines += ["", "| metric | aspect | verdict | p-value | flagged summaries |", "|---|---|---|---|---|"]
    lines += [
        f"| {r.metric} | {r.aspect} | **{r.verdict}** | {fmt_p(r.p_value, draws)} | {r.flagged or '—'} |"
        for r in verdicts(scores).itertuples()
    ]
    return "\n".join(lines) + "\n"


def summary_markdown(scores: pd.DataFrame, info: dict) -> str:
    """The score as Markdown: the header facts, the verdicts, the summary rows, and how to read them."""
    draws = null_draws(info)
    lines = [verdicts_markdown(scores, info).rstrip("\n")]
    lines += [
        "",
        "| metric | statistic | value | 95% CI | ideal | floor | ×floor | p-value | flagged |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for metric in dict.fromkeys(scores["metric"]):
        for r in metric_rows(scores, metric, draws):
            lines.append(
                f"| {metric} | {r['statistic']} | {r['value']} | {r['ci'] or '—'} | {r['ideal']} | "
                f"{r['floor'] or '—'} | {r['times'] or '—'} | {r['p_value'] or '—'} | {'⚑' if r['flagged'] else ''} |"
            )
    lines += ["", METHOD.format(boot=info.get("bootstrap_draws", 0))]
    return "\n".join(lines) + "\n"


def metric_figures(
    display: dict[str, Display], curves: pd.DataFrame, n: int | None, info: dict, model: str = "generated"
) -> dict[str, list[tuple[str, str]]]:
    """Per metric, its declared figures as (title, base64 PNG); ``curves`` gets a ``model`` column if it has none.
    ``info``: a score's (its ``side_deg`` and ``npix`` turn curves declared in pixel units into degrees)."""
    if curves.empty:
        return {}
    if "model" not in curves:
        curves = curves.assign(model=model)
    out: dict[str, list[tuple[str, str]]] = {}
    for metric, d in display.items():
        own = curves[curves["metric"] == metric]
        for plot in d.plots:
            fig = curve_figure(plot, in_degrees(plot, own, info), n)
            if fig is not None:
                out.setdefault(metric, []).append((plot.title, png(fig)))
    return out


def in_degrees(plot: Plot, curves: pd.DataFrame, info: dict) -> pd.DataFrame:
    """``curves`` with the statistics ``plot`` declares in pixel units (``Plot.units``) in degrees: their means
    (the real-vs-real band's bounds too) and spreads scaled by ``Plot.in_degrees`` for the score's geometry."""
    if not plot.units or curves.empty:
        return curves
    if not info.get("side_deg") or not info.get("npix"):
        raise EmubenchError(f"plot {plot.title!r} declares pixel units but the score records no map geometry")
    side_deg, npix = float(info["side_deg"]), int(info["npix"])
    factor = curves["statistic"].map({s: plot.in_degrees(s, side_deg, npix) for s in curves["statistic"].unique()})
    return curves.assign(mean=curves["mean"] * factor, std=curves["std"] * factor)


def _size(b64: str) -> tuple[int, int]:
    """(width, height) in pixels of a base64 PNG, from its IHDR chunk."""
    import base64
    import struct

    return struct.unpack(">II", base64.b64decode(b64[:48])[16:24])


def wide(b64: str) -> bool:
    """Whether an embedded PNG is wide enough (over twice as wide as high) to need the page's full width."""
    width, height = _size(b64)
    return width > 2 * height


def css_width(b64: str) -> str:
    """The width a figure is shown at: its size in inches at the browser's 96 px per inch (a 150-dpi PNG shown
    pixel for pixel would be 1.6× its drawn size), never wider than its box (the pages' CSS)."""
    return f"{round(_size(b64)[0] * 96 / DPI)}px"


def slug(text: str) -> str:
    """A file-name-safe form of a title."""
    return re.sub(r"[^A-Za-z0-9]+", "-", text).strip("-").lower() or "x"


def keep_vector(vectors: dict[str, bytes], folder: str, title: str, picture: str) -> str | None:
    """Keep a figure's vector copy (``plots.Picture.pdf``) for ``folder``/ under a name made from its title and
    unique in ``vectors``; returns that relative path, None for a figure without one."""
    pdf = getattr(picture, "pdf", None)
    if pdf is None:
        return None
    stem, i = slug(title), 2
    name = f"{folder}/{stem}.pdf"
    while name in vectors:
        name, i = f"{folder}/{stem}-{i}.pdf", i + 1
    vectors[name] = pdf
    return name


def render_report(
    scores: pd.DataFrame,
    curves: pd.DataFrame,
    info: dict,
    samples: str | None = None,
    extra_figures: dict[str, list[tuple[str, str]]] | None = None,
    history: str | None = None,
) -> tuple[str, dict[str, bytes]]:
    """report.html's text and the vector copies of its figures (relative path under the report → PDF bytes).
    samples: a base64 PNG of sample maps; extra_figures: per metric, more (title, PNG) pairs shown in its
    section with their title as caption (the memorisation check's closest pairs)."""
    display = resolve(info, scores, curves)
    n = int(info["n"]) if info.get("n") else None
    vectors: dict[str, bytes] = {}
    # (title, PNG, PDF path, caption): a declared curve figure draws its title, so its caption need not repeat it
    figures = {
        m: [(t, b64, keep_vector(vectors, "figures", t, b64), "") for t, b64 in figs]
        for m, figs in metric_figures(display, curves, n, info, model=str(info.get("label") or "generated")).items()
    }
    for metric, figs in (extra_figures or {}).items():
        figures.setdefault(metric, []).extend((t, b64, keep_vector(vectors, "figures", t, b64), t) for t, b64 in figs)
    samples_pdf = keep_vector(vectors, "figures", "samples", samples) if samples else None
    history_pdf = keep_vector(vectors, "figures", "training history", history) if history else None
    draws = null_draws(info)
    n_maps = int(info["n"]) if info.get("n") else None
    cards = verdict_cards(scores, display, draws, str(info.get("dataset")), n_maps)
    sections = [
        {
            "metric": m,
            "description": d.description,
            "rows": metric_rows(scores, m, draws),
            "figures": [f for f in figures.get(m, []) if not wide(f[1])],
            "wide_figures": [f for f in figures.get(m, []) if wide(f[1])],
            "flagged": any(c["verdict"] == "flag" for c in cards if c["metric"] == m),
        }
        for m, d in display.items()
    ]
    cal = info.get("calibration") or {}
    html = (
        environment()
        .get_template("report.html.j2")
        .render(
            title=f"emubench: {info.get('model')}",
            model=str(info.get("model")),
            facts=facts(info),
            cards=cards,
            n_flags=sum(c["verdict"] == "flag" for c in cards),
            alpha=fmt(cal.get("alpha", float("nan"))),
            sections=sections,
            samples=samples,
            samples_pdf=samples_pdf,
            history=history,
            history_pdf=history_pdf,
            checkpoint=(info.get("provenance") or {}).get("checkpoint"),
            reach=smallest_per_flaw(str(info.get("dataset")), n_maps),
            reach_note=reach_note(str(info.get("dataset")), n_maps),
            side_deg=info.get("side_deg"),
            manifest=flatten(info),
            method=METHOD.format(boot=info.get("bootstrap_draws", 0)),
        )
    )
    return html, vectors


def write_report(
    out: str | os.PathLike,
    scores: pd.DataFrame,
    curves: pd.DataFrame,
    info: dict,
    generated: np.ndarray | None = None,
    reference: np.ndarray | None = None,
    extras: dict[str, Any] | None = None,
) -> Path:
    """Write scores.csv (+ .parquet with pyarrow), curves.csv, score.json, summary.md and report.html under ``out``.

    extras: each metric's ``MetricResult.extras``; a metric whose extras hold closest pairs (``generated_index``,
    ``train_maps``, ``distance``) gets their images in its section. The folder is built beside ``out`` and
    swapped in at the end, so a failure leaves the previous report complete and no half-written one.
    """
    with atomic_folder(out) as work:
        _write_df(work / SCORES, scores)
        _write_df(work / CURVES, curves)
        try:
            import pyarrow  # noqa: F401

            with atomic_path(work / "scores.parquet") as tmp:
                scores.to_parquet(tmp, index=False)
        except ImportError:
            pass
        write_json(work / INFO, info)
        write_text(work / "summary.md", summary_markdown(scores, info))
        history = _history(info)
        samples = None
        if generated is not None and reference is not None:
            samples = samples_figure(generated, reference, side_deg=info.get("side_deg"))
        extra_figures = _extra_figures(extras or {}, generated)
        html, vectors = render_report(scores, curves, info, samples, extra_figures, history)
        write_text(work / "report.html", html)
        for name, pdf in vectors.items():
            write_bytes(work / name, pdf)
    return Path(out)


def _extra_figures(extras: dict[str, Any], generated: np.ndarray | None) -> dict[str, list[tuple[str, str]]]:
    """Per metric, the figures its extras hold: closest pairs (``generated_index``, ``train_maps``, ``distance``)
    and a covariance verdict's scatter and correlations (``covariance``, ``FeatureMetric.covariance_panels``)."""
    out: dict[str, list[tuple[str, str]]] = {}
    for metric, x in extras.items():
        if not isinstance(x, dict):
            continue
        if x.get("covariance"):
            title = "scatter and bin-to-bin correlations, generated vs real (the covariance verdict)"
            out.setdefault(metric, []).append((title, covariance_figure(x["covariance"])))
        if x.get("margins") and "cutoff" in x:
            title = "margins of every map: what the memorisation verdict counts"
            out.setdefault(metric, []).append((title, margin_figure(x)))
        if generated is not None and {"generated_index", "train_maps", "distance"} <= set(x):
            out.setdefault(metric, []).append(("closest generated / training pairs", pairs_figure(generated, x)))
    return out


def _history(info: dict) -> str | None:
    """The training-history figure of a scored run (its log.jsonl, read where the run folder still is); None
    for a training-free model, maps from a file, or a run folder no longer there."""
    import json

    prov = info.get("provenance") or {}
    log = Path(prov["run"]) / "log.jsonl" if prov.get("run") else None
    if log is None or not log.is_file():
        return None
    records = []
    for line in log.read_text().splitlines():
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:  # a line cut by a kill: the rest of the log still tells the story
            continue
    manifest = prov.get("manifest") or {}
    scored = prov.get("checkpoint") or manifest.get("best") or ""
    return history_figure(records, (manifest.get("checkpoints") or {}).get(scored, {}).get("step"))


def _write_df(path: Path, df: pd.DataFrame) -> None:
    with atomic_path(path) as tmp:
        df.to_csv(tmp, index=False)
