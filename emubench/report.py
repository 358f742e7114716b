"""Reports: the tidy score table as CSV/Parquet, a Markdown summary, an HTML page with plots; the leaderboard.

Only this module pivots and formats; everything upstream returns long, tidy DataFrames.
"""

from __future__ import annotations

import base64
import html
import io
import json
import os
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from .errors import EmubenchError  # noqa: E402
from .io import atomic_path, write_json, write_text  # noqa: E402
from .scoring import verdicts  # noqa: E402

SCORES, CURVES, INFO = "scores.csv", "curves.csv", "score.json"


def _png(fig) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90, bbox_inches="tight")
    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode()


def _fmt(x: Any) -> str:
    if isinstance(x, (float, np.floating)):
        if not np.isfinite(x):
            return str(x)
        return f"{x:.4g}"
    return str(x)


def _write_df(path: Path, df: pd.DataFrame) -> None:
    with atomic_path(path) as tmp:
        df.to_csv(tmp, index=False)


def _curve(curves: pd.DataFrame, metric: str, statistic: str, label: str) -> pd.DataFrame:
    c = curves[(curves.metric == metric) & (curves.statistic == statistic) & (curves.set == label)].sort_values("x")
    if metric == "power-spectrum":
        c = c[c["mean"] > 0]  # empty ℓ bins (no modes) carry 0, which a log axis cannot show
    return c


# -- plots of one scored model ---------------------------------------------------------------------


def plot_curves(
    curves: pd.DataFrame, scores: pd.DataFrame | None = None, labels: dict[str, str] | None = None
) -> dict[str, str]:
    """Base64 PNGs: pixel pdf, power spectrum with ratio panel (and floor band), V0/V1/V2, peaks.

    ``curves`` may hold several models (column ``model``); each is drawn on the same axes against the
    reference, which is how the leaderboard overlays them.
    """
    if curves.empty or "metric" not in curves:  # metrics without curves: nothing to plot
        return {}
    if "model" not in curves:
        curves = curves.assign(model="generated")
    models = list(dict.fromkeys(curves["model"]))
    figs = {}
    ref_src = curves[curves.model == models[0]]

    def lines(ax, metric, stat, transform=lambda x, y: y, ratio_ax=None):
        ref = _curve(ref_src, metric, stat, "reference")
        if ref.empty:
            return False
        ax.plot(ref.x, transform(ref.x, ref["mean"]), "k-", lw=2, label="real (validation)")
        held = _curve(ref_src, metric, stat, "heldout")
        ax.plot(held.x, transform(held.x, held["mean"]), "k:", lw=1, label="real (test)")
        for m in models:
            g = _curve(curves[curves.model == m], metric, stat, "generated")
            ax.plot(g.x, transform(g.x, g["mean"]), "-", label=m)
            if ratio_ax is not None and len(g) == len(ref):
                with np.errstate(divide="ignore", invalid="ignore"):
                    ratio_ax.plot(g.x, g["mean"].values / ref["mean"].values, "-", label=m)
        if ratio_ax is not None:
            with np.errstate(divide="ignore", invalid="ignore"):
                ratio_ax.plot(held.x, held["mean"].values / ref["mean"].values, "k:", lw=1)
                # band: ±1 standard error of one real set's mean, in ratio units (the spread a real set shows)
                se = (
                    ref["std"].values
                    / np.sqrt(max(2, int(scores["n"].iloc[0]) if scores is not None else 100))
                    / ref["mean"].values
                )
            ratio_ax.fill_between(ref.x, 1 - 2 * se, 1 + 2 * se, color="0.8", label="±2 SE (real)")
            ratio_ax.axhline(1, color="k", lw=0.5)
        return True

    fig, ax = plt.subplots(figsize=(6, 4))
    if lines(ax, "pixel-ks", "pdf"):
        ax.set_yscale("log")
        ax.set_xlabel("ν = κ / σ_ref")
        ax.set_ylabel("pixel pdf")
        ax.legend(fontsize=7)
        figs["pixel pdf"] = _png(fig)
    else:
        plt.close(fig)

    fig, (ax, rax) = plt.subplots(2, 1, figsize=(6, 5.5), sharex=True, gridspec_kw={"height_ratios": [2, 1]})
    if lines(ax, "power-spectrum", "C_ell", lambda x, y: x * (x + 1) * y / (2 * np.pi), ratio_ax=rax):
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_ylabel("ℓ(ℓ+1)C_ℓ/2π")
        ax.legend(fontsize=7)
        rax.set_xlabel("ℓ")
        rax.set_ylabel("ratio to real")
        rax.set_ylim(0.5, 1.5)
        figs["power spectrum"] = _png(fig)
    else:
        plt.close(fig)

    fig, axes = plt.subplots(1, 3, figsize=(13, 3.6))
    ok = [lines(a, "minkowski", s) for a, s in zip(axes, ("V0", "V1", "V2"))]
    if any(ok):
        for a, s in zip(axes, ("V0", "V1", "V2")):
            a.set_title(s)
            a.set_xlabel("ν")
        axes[0].legend(fontsize=7)
        figs["Minkowski functionals"] = _png(fig)
    else:
        plt.close(fig)

    fig, ax = plt.subplots(figsize=(6, 4))
    if lines(ax, "peaks", "peaks"):
        ax.set_yscale("symlog", linthresh=1)
        ax.set_xlabel("ν")
        ax.set_ylabel("peaks per unit ν per map")
        ax.legend(fontsize=7)
        figs["peak counts"] = _png(fig)
    else:
        plt.close(fig)
    return figs


def plot_pairs(generated: np.ndarray, train_maps: np.ndarray, info: dict) -> str:
    """Grid of the generated maps closest to a training map, each above its nearest training map.

    train_maps: the nearest training maps, in the order of ``info["generated_index"]``.
    """
    gi, dist = info["generated_index"], info["distance"]
    k = len(gi)
    fig, axes = plt.subplots(2, k, figsize=(1.6 * k, 3.6))
    axes = np.atleast_2d(axes).reshape(2, k)
    lo, hi = np.percentile(train_maps, [1, 99.5])
    for j in range(k):
        axes[0, j].imshow(generated[gi[j]], vmin=lo, vmax=hi, cmap="magma")
        axes[0, j].set_title(f"d={dist[j]:.3g}", fontsize=7)
        axes[1, j].imshow(train_maps[j], vmin=lo, vmax=hi, cmap="magma")
        for a in axes[:, j]:
            a.set_xticks([])
            a.set_yticks([])
    axes[0, 0].set_ylabel("generated", fontsize=8)
    axes[1, 0].set_ylabel("nearest train", fontsize=8)
    return _png(fig)


def plot_samples(generated: np.ndarray, reference: np.ndarray, k: int = 6) -> str:
    fig, axes = plt.subplots(2, k, figsize=(1.6 * k, 3.6))
    lo, hi = np.percentile(reference[:k], [1, 99.5])
    for j in range(k):
        for row_, maps in enumerate((generated, reference)):
            axes[row_, j].imshow(maps[j % len(maps)], vmin=lo, vmax=hi, cmap="magma")
            axes[row_, j].set_xticks([])
            axes[row_, j].set_yticks([])
    axes[0, 0].set_ylabel("generated", fontsize=8)
    axes[1, 0].set_ylabel("real", fontsize=8)
    return _png(fig)


def markdown_table(df: pd.DataFrame) -> str:
    """A DataFrame as a Markdown table (numbers to 4 significant digits), without optional dependencies."""
    head = "| " + " | ".join(str(c) for c in df.columns) + " |"
    rule = "|" + "---|" * len(df.columns)
    body = ["| " + " | ".join(_fmt(v) for v in r) + " |" for r in df.itertuples(index=False)]
    return "\n".join([head, rule, *body])


def plot_sensitivity(table: pd.DataFrame, path: str | os.PathLike) -> None:
    """Fraction of bases flagged against flaw size, one panel per planted flaw, one line per verdict."""
    from .calibration import FLAWS

    flaws = list(dict.fromkeys(table.flaw))
    fig, axes = plt.subplots(1, len(flaws), figsize=(5 * len(flaws), 3.8), squeeze=False)
    for ax, flaw in zip(axes[0], flaws):
        t = table[table.flaw == flaw]
        for (metric, aspect), g in t.groupby(["metric", "aspect"], sort=False):
            frac = g.groupby("level").verdict.apply(lambda x: (x == "flag").mean())
            ax.plot(frac.index, frac.values, "o-", label=f"{metric}/{aspect}", ms=3)
        ax.set_xscale("log")
        ax.set_ylim(-0.05, 1.05)
        ax.set_xlabel(FLAWS[flaw][1] if flaw in FLAWS else flaw)
        ax.set_ylabel("fraction of bases flagged")
    axes[0][0].legend(fontsize=7)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=80)
    plt.close(fig)


# -- writing one report ----------------------------------------------------------------------------


def summary_markdown(scores: pd.DataFrame, info: dict) -> str:
    v = verdicts(scores)
    cal = info.get("calibration") or {}
    null_text = {
        "fresh": f"{cal.get('null_draws')} draws of n of {cal.get('null_pool')} fresh maps from the dataset's "
        "generator, each against this reference",
        "permutation": f"{cal.get('null_draws')} random re-splits of generated ∪ reference maps",
    }.get(cal.get("null"), f"{info.get('floor_draws')} draws")
    lines = [
        f"# emubench score: {info.get('model')}",
        "",
        f"- dataset: `{info.get('dataset')}` (hash `{info.get('dataset_hash')}`, split seed {info.get('split_seed')}, "
        f"map side {info.get('side_deg')}°, {info.get('npix')}² pixels)",
        f"- maps per set: {info.get('n')} generated vs {info.get('n')} validation; null: {null_text}",
        f"- false-positive rate: {_fmt(cal.get('alpha', float('nan')))} for the whole score, "
        f"{_fmt(cal.get('alpha_verdict', float('nan')))} for each of its {cal.get('verdicts')} verdicts",
        f"- sample seed: {info.get('seed')}; throughput: "
        f"{info.get('throughput_maps_per_s', float('nan')):.1f} maps/s on {info.get('device')}",
        f"- emubench {info.get('emubench_version')}",
        "",
        "| metric | aspect | verdict | p-value | flagged summaries |",
        "|---|---|---|---|---|",
    ]
    lines += [
        f"| {r.metric} | {r.aspect} | **{r.verdict}** | {_fmt(r.p_value)} | {r.flagged or '—'} |"
        for r in v.itertuples()
    ]
    lines += [
        "",
        "| metric | statistic | value | 95% CI | ideal | floor | p-value | flagged |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in scores[scores["summary"]].itertuples():
        ci = f"{_fmt(r.ci_low)} – {_fmt(r.ci_high)}" if "ci_low" in scores and np.isfinite(r.ci_low) else "—"
        lines.append(
            f"| {r.metric} | {r.statistic} | {_fmt(r.value)} | {ci} | {_fmt(r.ideal)} | {_fmt(r.floor)} | "
            f"{_fmt(r.p_value)} | {'⚑' if r.flagged else ''} |"
        )
    lines += [
        "",
        "Each verdict is a test at the rate above, family-wise over its summary rows (max-T over the "
        "null draws). A row is flagged when its adjusted p-value is at most the verdict's rate, i.e. when "
        "|value − ideal| exceeds its floor (value − ideal for the memorisation fraction, whose null is the "
        "exact beta-binomial). `ideal` is what a perfect emulator scores on average. Per-bin rows (in scores.csv) "
        "are informational and never flagged. The 95% CI is a percentile bootstrap over the generated and "
        f"reference maps for per-bin rows ({info.get('bootstrap_draws', 0)} resamples), ±1.96σ for the power-spectrum "
        "amplitude, exact binomial for the memorisation fractions; distances such as χ² or RMS differences get "
        "none (their percentile bootstrap is biased upward and can exclude the estimate).",
    ]
    return "\n".join(lines) + "\n"


def write_report(
    out: str | os.PathLike,
    scores: pd.DataFrame,
    curves: pd.DataFrame,
    info: dict,
    generated: np.ndarray | None = None,
    reference: np.ndarray | None = None,
    pairs: tuple[np.ndarray, np.ndarray, dict] | None = None,
) -> Path:
    """Write scores.csv (+ .parquet with pyarrow), curves.csv, score.json, summary.md and report.html under ``out``.

    The folder is built beside ``out`` and swapped in at the end, so a failure (disk full, a bad plot) leaves
    the previous report complete and no half-written one.
    """
    import shutil
    import tempfile

    final = Path(out)
    final.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{final.name}.", suffix=".tmp", dir=final.parent))
    try:
        _write_report_files(work, scores, curves, info, generated, reference, pairs)
        old = None
        if final.exists():
            old = final.with_name(f".{final.name}.old-{os.getpid()}")
            final.rename(old)
        work.rename(final)
        if old is not None:
            shutil.rmtree(old)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    return final


def _write_report_files(out: Path, scores, curves, info, generated, reference, pairs) -> None:
    _write_df(out / SCORES, scores)
    _write_df(out / CURVES, curves)
    try:
        import pyarrow  # noqa: F401

        with atomic_path(out / "scores.parquet") as tmp:
            scores.to_parquet(tmp, index=False)
    except ImportError:
        pass
    write_json(out / INFO, info)
    md = summary_markdown(scores, info)
    write_text(out / "summary.md", md)
    figs = plot_curves(curves, scores)
    if generated is not None and reference is not None:
        figs["samples (top: generated, bottom: real)"] = plot_samples(generated, reference)
    if pairs is not None:
        figs["closest generated / training pairs"] = plot_pairs(*pairs)
    body = [f"<h1>emubench score: {html.escape(str(info.get('model')))}</h1>", "<pre>" + html.escape(md) + "</pre>"]
    for title, b64 in figs.items():
        body.append(f"<h2>{html.escape(title)}</h2><img src='data:image/png;base64,{b64}'>")
    body.append("<h2>manifest</h2><pre>" + html.escape(json.dumps(info, indent=2, default=str)) + "</pre>")
    write_text(out / "report.html", _page(f"emubench: {info.get('model')}", "\n".join(body)))


def _page(title: str, body: str) -> str:
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
        "<style>body{font-family:sans-serif;max-width:1100px;margin:auto}table{border-collapse:collapse}"
        "td,th{border:1px solid #ccc;padding:3px 6px;font-size:13px}th{cursor:pointer;background:#eee}"
        ".flag{background:#fdd}</style></head><body>" + body + "</body></html>\n"
    )


# -- leaderboard -----------------------------------------------------------------------------------

LEADER_STATS = [
    ("pixel-ks", "D"),
    ("power-spectrum", "chi2-dof"),
    ("power-spectrum", "max-abs-log-std-ratio"),
    ("minkowski", "V0-chi2-dof"),
    ("minkowski", "V1-chi2-dof"),
    ("minkowski", "V2-chi2-dof"),
    ("peaks", "chi2-dof"),
    ("memorisation", "fraction-closer-to-training"),
]


def read_scored(path: str | os.PathLike) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    p = Path(path)
    if not (p / SCORES).exists():
        raise EmubenchError(f"{path}: not a score report (no {SCORES}); run emubench score first")
    try:
        scores = pd.read_csv(p / SCORES)
        curves = pd.read_csv(p / CURVES) if (p / CURVES).exists() else pd.DataFrame()
        info = json.loads((p / INFO).read_text()) if (p / INFO).exists() else {}
    except (pd.errors.ParserError, json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise EmubenchError(f"{path}: corrupt score report ({exc})") from None
    return scores, curves, info


def leaderboard(paths: list[str | os.PathLike], out: str | os.PathLike) -> pd.DataFrame:
    """Read scored reports and write leaderboard.md / leaderboard.html (+ overlay plots) under ``out``."""
    if not paths:
        raise EmubenchError("no score reports given")
    rows, all_curves = [], []
    for p in paths:
        scores, curves, info = read_scored(p)
        model = info.get("label") or info.get("model") or str(p)
        v = verdicts(scores)
        r: dict[str, Any] = {
            "model": model,
            "flags": int((v.verdict == "flag").sum()),
            "flagged": "; ".join(f"{a.metric}/{a.aspect}" for a in v[v.verdict == "flag"].itertuples()) or "none",
            "maps/s": info.get("throughput_maps_per_s", np.nan),
            "device": info.get("device", ""),
        }
        for metric, stat in LEADER_STATS:
            hit = scores[(scores.metric == metric) & (scores.statistic == stat)]
            if len(hit):
                h = hit.iloc[0]
                r[f"{metric}:{stat}"] = (float(h.value), float(h.floor), bool(h.flagged))
        rows.append(r)
        if len(curves):
            all_curves.append(curves.assign(model=model))
    table = pd.DataFrame(rows).sort_values(["flags", "model"]).reset_index(drop=True)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    cols = [c for c in table.columns if ":" in c]

    def cell(x, md=True):
        if not isinstance(x, tuple):
            return "—"
        val, floor, flag = x
        text = f"{_fmt(val)} (floor {_fmt(floor)})"
        return (f"**{text}** ⚑" if flag else text) if md else text

    md = [
        "# emubench leaderboard",
        "",
        "Default dataset `lognormal-lcdm-64` (64² κ maps over 0.866°), split seed 0, sample seed 0; regenerate with "
        "`bash scripts/make_leaderboard.sh`. Each cell: value (floor: the |value − ideal| a row must exceed to be "
        "flagged, from 1,000 real-vs-real null draws; ideal is 1 for χ²/dof, 0 otherwise); ⚑ marks a flagged row. "
        "Each verdict is a test at 5%/8 = 0.625%, so a perfect emulator gets any flag with probability ≤ 5%. "
        "`flags` counts (metric, aspect) verdicts with a flagged "
        "summary; the leaderboard is sorted by it. maps/s: sampling throughput on the device named.",
        "",
        "| model | flags | flagged (metric/aspect) | maps/s | device | " + " | ".join(cols) + " |",
        "|---" * (5 + len(cols)) + "|",
    ]
    for r in table.itertuples(index=False):
        vals = dict(zip(table.columns, r))
        rate = "—" if not np.isfinite(vals["maps/s"]) else _fmt(vals["maps/s"])
        md.append(
            f"| {vals['model']} | {vals['flags']} | {vals['flagged']} | {rate} | {vals['device']} | "
            + " | ".join(cell(vals[c]) for c in cols)
            + " |"
        )
    figs = plot_curves(pd.concat(all_curves)) if all_curves else {}
    for title in figs:
        name = title.replace(" ", "_") + ".png"
        with atomic_path(out / name) as tmp:
            tmp.write_bytes(base64.b64decode(figs[title]))
        md.append(f"\n![{title}]({name})")
    write_text(out / "leaderboard.md", "\n".join(md) + "\n")
    head = "".join(
        f"<th onclick='sortBy({i})'>{html.escape(c)}</th>"
        for i, c in enumerate(["model", "flags", "flagged", "maps/s", "device"] + cols)
    )
    body_rows = []
    for r in table.itertuples(index=False):
        vals = dict(zip(table.columns, r))
        tds = [
            html.escape(str(vals["model"])),
            str(vals["flags"]),
            html.escape(str(vals["flagged"])),
            _fmt(vals["maps/s"]),
            html.escape(str(vals["device"])),
        ]
        cells = "".join(f"<td>{t}</td>" for t in tds)
        for c in cols:
            x = vals[c]
            klass = " class='flag'" if isinstance(x, tuple) and x[2] else ""
            sort = _fmt(x[0]) if isinstance(x, tuple) else ""
            cells += f"<td{klass} data-sort='{sort}'>{html.escape(cell(x, md=False))}</td>"
        body_rows.append(f"<tr>{cells}</tr>")
    script = (
        "<script>function sortBy(i){const t=document.getElementById('lb');const rows=[...t.tBodies[0].rows];"
        "const key=r=>{const c=r.cells[i];const v=c.dataset.sort??c.textContent;"
        "const f=parseFloat(v);return isNaN(f)?v:f};"
        "const asc=t.dataset.col==i&&t.dataset.dir!='asc';t.dataset.col=i;t.dataset.dir=asc?'asc':'desc';"
        "rows.sort((a,b)=>{const x=key(a),y=key(b);return (x>y?1:x<y?-1:0)*(asc?1:-1)});"
        "rows.forEach(r=>t.tBodies[0].appendChild(r))}</script>"
    )
    imgs = "".join(f"<h2>{html.escape(t)}</h2><img src='data:image/png;base64,{b}'>" for t, b in figs.items())
    page = (
        f"<h1>emubench leaderboard</h1><p>Each cell: value (real-vs-real floor); red cells are worse than the floor. "
        f"Click a header to sort.</p><table id='lb'><thead><tr>{head}</tr></thead>"
        f"<tbody>{''.join(body_rows)}</tbody></table>{imgs}{script}"
    )
    write_text(out / "leaderboard.html", _page("emubench leaderboard", page))
    return table
