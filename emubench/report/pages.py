"""One scored model's report folder: scores.csv (+ .parquet), curves.csv, score.json, summary.md, report.html.

report.html is rendered by Jinja2 from ``templates/report.html.j2``: verdict cards, one section per metric with
its summary table beside its plots, the samples, and the manifest; images are embedded, so the page is one
self-contained file that can be mailed or attached to a paper.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..io import atomic_folder, atomic_path, write_json, write_text
from ..scoring import verdicts
from .display import Display, resolve
from .plots import curve_figure, pairs_figure, png, samples_figure
from .tables import flatten, fmt, metric_rows, verdict_cards

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

    return jinja2.Environment(
        loader=jinja2.PackageLoader("emubench.report", "templates"),
        autoescape=jinja2.select_autoescape(["html", "j2"]),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


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
        ("throughput", f"{rate:.1f} maps/s on {info.get('device')}" if np.isfinite(rate) else "—"),
        ("emubench", str(info.get("emubench_version"))),
    ]


def summary_markdown(scores: pd.DataFrame, info: dict) -> str:
    """The score as Markdown: the header facts, the verdicts, the summary rows, and how to read them."""
    lines = [f"# emubench score: {info.get('model')}", ""]
    lines += [f"- {k}: {v}" for k, v in facts(info)]
    lines += ["", "| metric | aspect | verdict | p-value | flagged summaries |", "|---|---|---|---|---|"]
    lines += [
        f"| {r.metric} | {r.aspect} | **{r.verdict}** | {fmt(r.p_value)} | {r.flagged or '—'} |"
        for r in verdicts(scores).itertuples()
    ]
    lines += [
        "",
        "| metric | statistic | value | 95% CI | ideal | floor | ×floor | p-value | flagged |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for metric in dict.fromkeys(scores["metric"]):
        for r in metric_rows(scores, metric):
            lines.append(
                f"| {metric} | {r['statistic']} | {r['value']} | {r['ci'] or '—'} | {r['ideal']} | "
                f"{r['floor'] or '—'} | {r['times'] or '—'} | {r['p_value'] or '—'} | {'⚑' if r['flagged'] else ''} |"
            )
    lines += ["", METHOD.format(boot=info.get("bootstrap_draws", 0))]
    return "\n".join(lines) + "\n"


def metric_figures(
    display: dict[str, Display], curves: pd.DataFrame, n: int | None, model: str = "generated"
) -> dict[str, list[tuple[str, str]]]:
    """Per metric, its declared figures as (title, base64 PNG); ``curves`` gets a ``model`` column if it has none."""
    if curves.empty:
        return {}
    if "model" not in curves:
        curves = curves.assign(model=model)
    out: dict[str, list[tuple[str, str]]] = {}
    for metric, d in display.items():
        own = curves[curves["metric"] == metric]
        for plot in d.plots:
            fig = curve_figure(plot, own, n)
            if fig is not None:
                out.setdefault(metric, []).append((plot.title, png(fig)))
    return out


def wide(b64: str) -> bool:
    """Whether an embedded PNG is wide enough (over twice as wide as high) to need the page's full width."""
    import base64
    import struct

    head = base64.b64decode(b64[:48])
    width, height = struct.unpack(">II", head[16:24])  # the PNG IHDR chunk
    return width > 2 * height


def render_report(
    scores: pd.DataFrame,
    curves: pd.DataFrame,
    info: dict,
    samples: str | None = None,
    extra_figures: dict[str, list[tuple[str, str]]] | None = None,
) -> str:
    """report.html's text. samples: a base64 PNG of sample maps; extra_figures: per metric, more (title, PNG)
    pairs shown in its section (the memorisation check's closest pairs)."""
    display = resolve(info, scores, curves)
    n = int(info["n"]) if info.get("n") else None
    figures = metric_figures(display, curves, n, model=str(info.get("label") or "generated"))
    for metric, figs in (extra_figures or {}).items():
        figures.setdefault(metric, []).extend(figs)
    cards = verdict_cards(scores, display)
    sections = [
        {
            "metric": m,
            "description": d.description,
            "rows": metric_rows(scores, m),
            "figures": [f for f in figures.get(m, []) if not wide(f[1])],
            "wide_figures": [f for f in figures.get(m, []) if wide(f[1])],
            "flagged": any(c["verdict"] == "flag" for c in cards if c["metric"] == m),
        }
        for m, d in display.items()
    ]
    cal = info.get("calibration") or {}
    return (
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
            manifest=flatten(info),
            method=METHOD.format(boot=info.get("bootstrap_draws", 0)),
        )
    )


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
        samples = None
        if generated is not None and reference is not None:
            samples = samples_figure(generated, reference)
        extra_figures = {
            metric: [("closest generated / training pairs", pairs_figure(generated, x))]
            for metric, x in (extras or {}).items()
            if generated is not None and isinstance(x, dict) and {"generated_index", "train_maps", "distance"} <= set(x)
        }
        write_text(work / "report.html", render_report(scores, curves, info, samples, extra_figures))
    return Path(out)


def _write_df(path: Path, df: pd.DataFrame) -> None:
    with atomic_path(path) as tmp:
        df.to_csv(tmp, index=False)
