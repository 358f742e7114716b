"""Figures of the reports: metric curves as their metrics declare them, sample maps, closest pairs, sensitivity.

Axis ranges follow the data (a spectrum 100× too low is drawn where it is), and every curve panel carries the
real-vs-real band, so a reader sees the floor a difference has to exceed.
"""

from __future__ import annotations

import base64
import io
import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from ..contracts import Plot  # noqa: E402
from ..io import atomic_path  # noqa: E402

REAL = {"reference": ("k-", 2.0, "real (validation)"), "heldout": ("k:", 1.2, "real (test)")}


def png(fig) -> str:
    """A figure as a base64 PNG (closed afterwards), for pages that embed their images."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90)  # figures use the constrained layout: one draw, no tight-bbox pass
    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode()


def _y(plot: Plot, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    return x * (x + 1) * y / (2 * np.pi) if plot.y == "ell2" else y


def _drawable(scale: str, x: np.ndarray, y: np.ndarray, xscale: str) -> np.ndarray:
    """Points a log axis can show (empty ℓ bins carry 0, which a log axis cannot)."""
    ok = np.isfinite(y) & np.isfinite(x)
    if scale == "log":
        ok &= y > 0
    if xscale == "log":
        ok &= x > 0
    return ok


def _ratio_limits(values: list[np.ndarray]) -> tuple[str, float, float]:
    """Scale and limits of a ratio panel from what it shows (1 always included): log beyond a factor of 3."""
    v = np.concatenate([np.asarray(a, float).ravel() for a in values] + [np.array([1.0])])
    v = v[np.isfinite(v)]
    lo, hi = float(v.min()), float(v.max())
    if lo > 0 and hi / lo > 3:
        return "log", lo / 1.3, hi * 1.3
    pad = 0.08 * max(hi - lo, 0.02)
    return "linear", lo - pad, hi + pad


def _curve(records: pd.DataFrame, stat: str, label: str) -> pd.DataFrame:
    """One set's curve of one statistic, in order of x."""
    return records[(records["statistic"] == stat) & (records["set"] == label)].sort_values("x")


def _line(ax, plot: Plot, c: pd.DataFrame, *style, **kw) -> None:
    """A curve as the plot declares it (y transformed, points a log axis cannot show left out)."""
    x = c["x"].to_numpy(float)
    y = _y(plot, x, c["mean"].to_numpy(float))
    ok = _drawable(plot.yscale, x, y, plot.xscale)
    ax.plot(x[ok], y[ok], *style, **kw)


def _ratio(c: pd.DataFrame, ref: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """(x, c / ref) at the x both have, where the reference is positive."""
    r = pd.merge(c[["x", "mean"]], ref[["x", "mean"]], on="x", suffixes=("", "_ref"))
    r = r[r["mean_ref"] > 0]
    return r["x"].to_numpy(float), (r["mean"] / r["mean_ref"]).to_numpy(float)


def _band(records: pd.DataFrame, stat: str, rx: np.ndarray, rm: np.ndarray, rs: np.ndarray, n: int | None):
    """(low, high, legend) of the real-vs-real band at the reference's x: the central 95% of the null draws' mean
    curves where the metric recorded them (sets "null-low", "null-high": the null the floors come from), else
    ±2·√2·std/√n around the reference mean (metrics that record no null curves, older scores)."""
    lo, hi = _curve(records, stat, "null-low"), _curve(records, stat, "null-high")
    if len(lo) == len(rx) and len(hi) == len(rx) and len(rx):
        return lo["mean"].to_numpy(float), hi["mean"].to_numpy(float), "real vs real: 95% of the null draws"
    half = 2 * np.sqrt(2) * rs / np.sqrt(n) if n and len(rx) else np.full(len(rx), np.nan)
    return rm - half, rm + half, "real vs real ±2σ"


def curve_figure(plot: Plot, curves: pd.DataFrame, n: int | None):
    """The figure ``plot`` declares, or None when no statistic of it has curves.

    curves: curve records of one metric (statistic, x, set, mean, std) with a ``model`` column; the real sets are
    taken from the first model's records, every model's "generated" set is drawn. n: maps per set (the band:
    ``_band``).
    """
    models = list(dict.fromkeys(curves["model"]))
    stats = [s for s in plot.statistics if (curves["statistic"] == s).any()]
    if not stats:
        return None
    rows = 2 if plot.ratio else 1
    fig, axes = plt.subplots(
        rows,
        len(stats),
        figsize=(max(6.0, 4.3 * len(stats)), 5.5 if plot.ratio else 3.8),
        squeeze=False,
        sharex="col",
        gridspec_kw={"height_ratios": [2, 1]} if plot.ratio else None,
        layout="constrained",
    )
    first = curves[curves["model"] == models[0]]
    for j, stat in enumerate(stats):
        ax = axes[0, j]
        ref = _curve(first, stat, "reference")
        ratio = plot.ratio and len(ref) > 0
        ratios: list[np.ndarray] = []
        rx, rm = ref["x"].to_numpy(float), ref["mean"].to_numpy(float)
        band_lo, band_hi, band_label = _band(first, stat, rx, rm, ref["std"].to_numpy(float), n)
        if np.isfinite(band_hi).any():
            lo, hi = _y(plot, rx, band_lo), _y(plot, rx, band_hi)
            if plot.yscale == "log":
                lo = np.where(lo > 0, lo, _y(plot, rx, rm) * 1e-3)
            ax.fill_between(rx, lo, hi, color="0.85", lw=0, label=band_label)
        for label, (style, lw, name) in REAL.items():
            _line(ax, plot, _curve(first, stat, label), style, lw=lw, label=name)
        for m in models:
            g = _curve(curves[curves["model"] == m], stat, "generated")
            _line(ax, plot, g, "-", lw=1.4, label=m)
            if ratio:
                x, r = _ratio(g, ref)
                ratios.append(r)
                axes[1, j].plot(x, r, "-", lw=1.4, label=m)
        ax.set_xscale(plot.xscale)
        ax.set_yscale(plot.yscale, **({"linthresh": 1} if plot.yscale == "symlog" else {}))
        ax.set_title(stat if len(stats) > 1 else plot.title, fontsize=10)
        ax.set_ylabel(plot.ylabel if j == 0 else "")
        if ratio:
            rax = axes[1, j]
            ok = rm > 0
            rel_lo = np.where(ok, band_lo / np.where(ok, rm, 1), np.nan)
            rel_hi = np.where(ok, band_hi / np.where(ok, rm, 1), np.nan)
            if np.isfinite(rel_hi).any():
                rax.fill_between(rx[ok], rel_lo[ok], rel_hi[ok], color="0.85", lw=0)
                ratios += [rel_lo[ok], rel_hi[ok]]
            x, r = _ratio(_curve(first, stat, "heldout"), ref)
            rax.plot(x, r, "k:", lw=1.2)
            ratios.append(r)
            rax.axhline(1, color="k", lw=0.6)
            scale, lo, hi = _ratio_limits(ratios)
            rax.set_yscale(scale)
            rax.set_ylim(lo, hi)
            rax.set_ylabel("ratio to real" if j == 0 else "")
            rax.set_xlabel(plot.xlabel)
        else:
            ax.set_xlabel(plot.xlabel)
    axes[0, 0].legend(fontsize=7)
    return fig


def pairs_figure(generated: np.ndarray, extras: dict) -> str:
    """The generated maps closest to a training map (top) above that training map, moved onto them (bottom).

    extras: a metric's ``generated_index``, ``train_maps`` (aligned nearest training maps) and ``distance``;
    optionally ``squares``, (row, column, side) of the matching region, outlined on both maps.
    """
    from matplotlib.patches import Rectangle

    gi, dist, train_maps = extras["generated_index"], extras["distance"], np.asarray(extras["train_maps"])
    k = len(gi)
    fig, axes = plt.subplots(2, k, figsize=(1.6 * k, 3.6), squeeze=False, layout="constrained")
    lo, hi = np.percentile(train_maps, [1, 99.5])
    for j in range(k):
        axes[0, j].imshow(generated[gi[j]], vmin=lo, vmax=hi, cmap="magma")
        axes[0, j].set_title(f"d={dist[j]:.3g}", fontsize=7)
        axes[1, j].imshow(train_maps[j], vmin=lo, vmax=hi, cmap="magma")
        for a in axes[:, j]:
            a.set_xticks([])
            a.set_yticks([])
            if "squares" in extras:
                y, x, side = extras["squares"][j]
                a.add_patch(Rectangle((x - 0.5, y - 0.5), side, side, fill=False, edgecolor="cyan", linewidth=0.8))
    axes[0, 0].set_ylabel("generated", fontsize=8)
    axes[1, 0].set_ylabel("nearest train", fontsize=8)
    return png(fig)


def samples_figure(generated: np.ndarray, reference: np.ndarray, k: int = 6) -> str:
    """k generated maps (top) and k real maps (bottom) on one colour scale (the real maps' 1–99.5 percentiles)."""
    fig, axes = plt.subplots(2, k, figsize=(1.6 * k, 3.6), layout="constrained")
    lo, hi = np.percentile(reference[:k], [1, 99.5])
    for j in range(k):
        for row_, maps in enumerate((generated, reference)):
            axes[row_, j].imshow(maps[j % len(maps)], vmin=lo, vmax=hi, cmap="magma")
            axes[row_, j].set_xticks([])
            axes[row_, j].set_yticks([])
    axes[0, 0].set_ylabel("generated", fontsize=8)
    axes[1, 0].set_ylabel("real", fontsize=8)
    return png(fig)


def plot_sensitivity(table: pd.DataFrame, path: str | os.PathLike) -> None:
    """Fraction of bases flagged against flaw size, one panel per planted flaw, one line per verdict."""
    from ..calibration import COPY_FLAWS, FLAWS

    labels = {name: label for name, (_, label, _) in {**FLAWS, **COPY_FLAWS}.items()}
    flaws = list(dict.fromkeys(table.flaw))
    cols = min(4, len(flaws))
    rows_ = -(-len(flaws) // cols)
    fig, axes = plt.subplots(rows_, cols, figsize=(5 * cols, 3.8 * rows_), squeeze=False)
    for ax in axes.flat[len(flaws) :]:
        ax.set_visible(False)
    for ax, flaw in zip(axes.flat, flaws):
        t = table[table.flaw == flaw]
        for (metric, aspect), g in t.groupby(["metric", "aspect"], sort=False):
            frac = g.groupby("level").verdict.apply(lambda x: (x == "flag").mean())
            ax.plot(frac.index, frac.values, "o-", label=f"{metric}/{aspect}", ms=3)
        ax.set_xscale("log")
        ax.set_ylim(-0.05, 1.05)
        ax.set_xlabel(labels.get(flaw, flaw))
        ax.set_ylabel("fraction of bases flagged")
        ax.legend(fontsize=6)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=80)
    plt.close(fig)
