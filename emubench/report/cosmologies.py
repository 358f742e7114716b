"""The report of an emulator scored at every cosmology of a dataset (``scoring.score_cosmologies``).

Folder: scores.csv (every row of every cosmology, with its parameters and group), verdicts.csv (each verdict at
each cosmology), summary.csv (one verdict per group, metric and aspect across cosmologies), curves.csv,
score.json, summary.md and report.html: the verdicts across cosmologies, each verdict as a map over the
parameter plane (training cosmologies as circles, held-out ones as stars; red where flagged), and, for
``parameter-bias``, the parameters inferred from generated maps against those from real maps at every cosmology.
"""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd

from ..io import atomic_folder, write_json, write_text
from .pages import _write_df, environment
from .plots import plt, png
from .tables import flatten, fmt

LABELS = {"omega_m": "Ωm", "sigma8": "σ8"}


def plane_figure(per: pd.DataFrame, names: list[str]) -> str:
    """One panel per (metric, aspect): each cosmology in the plane of the first two parameters, green where the
    verdict passes, red where it flags; circles for training cosmologies, stars for held-out ones."""
    keys = list(dict.fromkeys(zip(per["metric"], per["aspect"])))
    cols = min(4, len(keys))
    rows = -(-len(keys) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3.3 * cols, 3.0 * rows), layout="constrained", squeeze=False)
    x, y = names[0], names[1]
    for ax, (metric, aspect) in zip(axes.ravel(), keys):
        g = per[(per["metric"] == metric) & (per["aspect"] == aspect)]
        for group, marker, size in (("train", "o", 60), ("heldout", "*", 190)):
            for verdict, colour in (("pass", "#1a7f37"), ("flag", "#c62828")):
                sel = g[(g["cosmology"] == group) & (g["verdict"] == verdict)]
                ax.scatter(sel[x], sel[y], marker=marker, s=size, c=colour, edgecolors="k", linewidths=0.4)
        flagged = int((g["verdict"] == "flag").sum())
        ax.set_title(f"{metric} / {aspect}: {flagged} of {len(g)} flagged", fontsize=9)
        ax.set_xlabel(LABELS.get(x, x))
        ax.set_ylabel(LABELS.get(y, y))
        ax.tick_params(labelsize=8)
    for ax in axes.ravel()[len(keys) :]:
        ax.set_axis_off()
    return png(fig)


def bias_figure(scores: pd.DataFrame, names: list[str]) -> str | None:
    """``parameter-bias``: at each cosmology, an arrow from the parameters inferred from real (reference) maps
    to those inferred from generated maps, and a cross at the true parameters; None without that metric."""
    pb = scores[scores["metric"] == "parameter-bias"]
    if pb.empty or len(names) < 2:
        return None
    x, y = names[0], names[1]
    fig, ax = plt.subplots(figsize=(6.4, 5.0), layout="constrained")
    for (tx, ty, group), g in pb.groupby([x, y, "cosmology"], sort=False):
        value = dict(zip(g["statistic"], g["value"]))
        ref = (value[f"{x}-reference"], value[f"{y}-reference"])
        gen = (value[f"{x}-generated"], value[f"{y}-generated"])
        flagged = bool(g[g["summary"]]["flagged"].any())
        colour = "#c62828" if flagged else "#1a7f37"
        ax.plot(tx, ty, marker="*" if group == "heldout" else "+", color="k", ms=11 if group == "heldout" else 8)
        ax.annotate("", xy=gen, xytext=ref, arrowprops=dict(arrowstyle="->", color=colour, lw=1.4))
        ax.plot(*ref, "o", ms=3, color="#57606a")
    ax.set_xlabel(LABELS.get(x, x))
    ax.set_ylabel(LABELS.get(y, y))
    ax.set_title("inferred parameters: real maps (grey dot) → generated maps (arrow; red: flagged)", fontsize=9)
    return png(fig)


def summary_markdown(summary: pd.DataFrame, per: pd.DataFrame, info: dict) -> str:
    lines = [f"# emubench score across cosmologies: {info.get('model')}", ""]
    lines += [f"- {k}: {v}" for k, v in facts(info)]
    lines += [
        "",
        "| cosmologies | metric | aspect | verdict | flagged on their own | combined p-value | where |",
        "|---|---|---|---|---|---|---|",
    ]
    lines += [
        f"| {r.cosmology} | {r.metric} | {r.aspect} | **{r.verdict}** | {r.flagged} of {r.cosmologies} | "
        f"{fmt(r.p_value)} | {r.where or '—'} |"
        for r in summary.itertuples()
    ]
    lines += ["", METHOD.format(**method_args(info))]
    return "\n".join(lines) + "\n"


METHOD = (
    "At each cosmology the emulator's n maps are scored against n real maps of that cosmology, every verdict "
    "calibrated on that cosmology's own real-vs-real null; a perfect emulator gets a flag in a given verdict "
    "at one cosmology with probability at most {alpha_verdict} (the 'flagged' column counts those). Across the "
    "K cosmologies of a group (training, held-out) Fisher's method combines the verdict's K p-values, "
    "independent across cosmologies: −2 Σ ln p is at most χ² with 2K degrees of freedom for a perfect emulator. "
    "The summary verdict flags when the combined p-value is at most {alpha_summary}, so a perfect emulator gets "
    "any summary flag with probability at most {alpha}; a flaw that leans the same way at many cosmologies is "
    "flagged even when no cosmology flags it on its own."
)


def method_args(info: dict) -> dict[str, str]:
    cal = info.get("calibration") or {}
    verdicts_, groups = cal.get("verdicts") or 1, 2 if info.get("heldout_params") else 1
    alpha = cal.get("alpha", float("nan"))
    return {
        "alpha": fmt(alpha),
        "alpha_verdict": fmt(cal.get("alpha_verdict", float("nan"))),
        "alpha_summary": fmt(alpha / (verdicts_ * groups)),
    }


def facts(info: dict) -> list[tuple[str, str]]:
    cal = info.get("calibration") or {}
    model = str(info.get("model"))
    kind = (
        f"conditioned on {', '.join(info.get('parameters') or [])}"
        if info.get("conditional")
        else "unconditional (the same distribution at every cosmology)"
    )
    return [
        ("model", f"{model}: {kind}"),
        ("dataset", f"{info.get('dataset')} (hash {info.get('dataset_hash')}, {info.get('npix')}² pixels)"),
        ("held-out cosmologies", ", ".join(str(tuple(t)) for t in info.get("heldout_params") or []) or "none"),
        ("maps per set", str(info.get("n") or "the validation maps of each cosmology")),
        ("null", f"{cal.get('null_draws')} draws per cosmology ({cal.get('null')})"),
        ("emubench", str(info.get("emubench_version"))),
    ]


def write_cosmology_report(
    out: str | os.PathLike,
    scores: pd.DataFrame,
    per: pd.DataFrame,
    summary: pd.DataFrame,
    curves: pd.DataFrame,
    info: dict,
) -> Path:
    """Write the folder described in the module docstring under ``out``, swapped in whole at the end. ``per``:
    the verdicts at each cosmology (``scoring.cosmology_verdicts``), ``summary``: across them."""
    names = list(info["parameters"])
    plane = plane_figure(per, names)
    bias = bias_figure(scores, names)
    with atomic_folder(out) as work:
        _write_df(work / "scores.csv", scores)
        _write_df(work / "verdicts.csv", per)
        _write_df(work / "summary.csv", summary)
        _write_df(work / "curves.csv", curves)
        write_json(work / "score.json", {**info, "across_cosmologies": summary.to_dict("records")})
        write_text(work / "summary.md", summary_markdown(summary, per, info))
        html = (
            environment()
            .get_template("cosmologies.html.j2")
            .render(
                title=f"emubench: {info.get('model')} across cosmologies",
                model=str(info.get("model")),
                facts=facts(info),
                summary=[
                    {**r, "p_value": fmt(r["p_value"]), "where": r["where"] or "—"} for r in summary.to_dict("records")
                ],
                n_flags=int((summary["verdict"] == "flag").sum()),
                plane=plane,
                bias=bias,
                per=[
                    {**r, "p_value": fmt(r["p_value"]), "params": ", ".join(f"{k}={r[k]:g}" for k in names)}
                    for r in per.to_dict("records")
                ],
                manifest=flatten(info),
                method=METHOD.format(**method_args(info)),
            )
        )
        write_text(work / "report.html", html)
    return Path(out)
