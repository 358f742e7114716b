"""Figures of the reports: metric curves as their metrics declare them, sample maps, closest pairs, sensitivity.

Axis ranges follow the data (a spectrum 100× too low is drawn where it is), and every curve panel carries the
real-vs-real band, so a reader sees the floor a difference has to exceed.
"""

from __future__ import annotations

import base64
import io
import os

import matplotlib
import matplotlib.ticker

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from ..contracts import Plot  # noqa: E402
from ..io import atomic_path  # noqa: E402

REAL = {"reference": ("k-", 2.0, "real (validation)"), "heldout": ("k:", 1.2, "real (test)")}


DPI = 150  # what a journal's figure needs; the vector copy serves any size


def vector_copies() -> bool:
    """Whether figures get their PDF copy (on unless ``EMUBENCH_VECTOR_FIGURES=0``: drawing each figure twice
    nearly doubles a report's rendering, which the test suite, writing dozens of reports, does without)."""
    return os.environ.get("EMUBENCH_VECTOR_FIGURES", "1") != "0"


class Picture(str):
    """A figure as the pages embed it: the string is its base64 PNG (``DPI``), and ``pdf`` holds its vector copy
    (bytes, None when ``vector_copies`` is off), which the report writers put beside the page (``figures/``,
    ``plots/``) and link under the figure."""

    pdf: bytes | None


def png(fig) -> Picture:
    """A figure as a base64 PNG with its PDF copy (closed afterwards), for pages that embed their images."""
    buf, vec = io.BytesIO(), io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI)  # figures use the constrained layout: one draw, no tight-bbox pass
    if vector_copies():
        fig.set_layout_engine("none")  # laid out once: the PDF reuses the positions (a fifth less time per figure)
        fig.savefig(vec, format="pdf", metadata={"CreationDate": None})  # no date: the same figure, the same bytes
    plt.close(fig)
    picture = Picture(base64.b64encode(buf.getvalue()).decode())
    picture.pdf = vec.getvalue() or None
    return picture


def _arcmin(x):
    """ℓ ↔ θ = 180°/ℓ in arcmin (its own inverse); 0 and below map to infinity, which an axis skips."""
    x = np.asarray(x, float)
    with np.errstate(divide="ignore"):
        return np.where(x > 0, 180.0 * 60.0 / np.where(x > 0, x, 1.0), np.inf)


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
    """A curve as the plot declares it (y transformed, points a log axis cannot show left out); nothing, not
    even a legend entry, for a set the metric did not record."""
    if c.empty:
        return
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


def _same_curves(curves: pd.DataFrame, models: list[str], stats: list[str]) -> dict[str, list[str]]:
    """Models whose generated curves are identical in every statistic of a figure, grouped under the first of
    them (drawn once, labelled "a = b"), so that no curve hides another silently."""

    key = {
        m: [_curve(curves[curves["model"] == m], s, "generated")["mean"].to_numpy(float) for s in stats] for m in models
    }
    groups: dict[str, list[str]] = {}
    for m in models:
        for head in groups:
            if all(
                a.shape == b.shape and np.allclose(a, b, rtol=1e-9, atol=0, equal_nan=True)
                for a, b in zip(key[m], key[head])
            ):
                groups[head].append(m)
                break
        else:
            groups[m] = [m]
    return groups


def _outliers(ratios: dict[str, list[np.ndarray]], band: float) -> set[str]:
    """Models whose ratio to the real curve strays so far (over 4× the typical model's largest |log ratio|, and
    beyond ±25%) that one axis would flatten every other model onto the line at 1: drawn in a panel of their own.
    ``band``: the real-vs-real band's largest |log ratio|, the least a typical model is taken to stray."""
    if len(ratios) < 2:
        return set()
    spread = {}
    for m, rs in ratios.items():
        v = np.concatenate([np.abs(np.log(np.clip(r[np.isfinite(r)], 1e-12, None))) for r in rs] + [np.zeros(1)])
        spread[m] = float(v.max())
    typical = max(float(np.median(list(spread.values()))), band, 1e-3)
    return {m for m, s in spread.items() if s > 4 * typical and s > np.log(1.25)}


def _residual_panel(ax, curves: pd.DataFrame, first: pd.DataFrame, style: dict, ref: pd.DataFrame, band, n: int):
    """Per bin, (generated − real mean) / σ, with σ = std·√(2/n) the standard error of the difference of two
    means of n maps, for every model, the real test maps (dotted) and the real-vs-real band (grey): a curve that
    looks right by eye but sits many σ off shows here. Symmetric-log beyond ±10σ, so a bin 10⁴σ off and one at
    2σ are both readable. style: per model drawn, its line's keywords."""
    rx, rm = ref["x"].to_numpy(float), ref["mean"].to_numpy(float)
    stat = ref["statistic"].iloc[0]
    sigma = ref["std"].to_numpy(float) * np.sqrt(2.0 / n)
    ok = sigma > 0
    with np.errstate(divide="ignore", invalid="ignore"):
        z = lambda m: np.where(ok, (m - rm) / np.where(ok, sigma, 1), np.nan)  # noqa: E731
        values = [z(band[0]), z(band[1])]
        ax.fill_between(rx[ok], values[0][ok], values[1][ok], color="0.85", lw=0)

        def at_ref(c: pd.DataFrame) -> np.ndarray:
            return c.set_index("x")["mean"].reindex(rx).to_numpy(float)

        held = z(at_ref(_curve(first, stat, "heldout")))
        ax.plot(rx, held, "k:", lw=1.2)
        values.append(held)
        for m, kw in style.items():
            r = z(at_ref(_curve(curves[curves["model"] == m], stat, "generated")))
            ax.plot(rx, r, lw=1.4, **kw)
            values.append(r)
    ax.axhline(0, color="k", lw=0.6)
    v = np.concatenate(values)
    if np.isfinite(v).any() and np.nanmax(np.abs(v)) > 10:
        ax.set_yscale("symlog", linthresh=3)
        # ticks at 0, ±3 and a few decades, so the labels near 0 do not run into each other
        top = int(np.floor(np.log10(np.nanmax(np.abs(v)))))  # within the data: ticks must not widen the axis
        ticks = [3.0, *(10.0**k for k in range(1, top + 1, max(1, top // 4)))]
        ax.set_yticks(sorted({0.0, *ticks, *(-t for t in ticks)}))
        ax.yaxis.set_major_formatter(matplotlib.ticker.FormatStrFormatter("%g"))
        ax.yaxis.set_minor_locator(matplotlib.ticker.NullLocator())


def _far_models(plot: Plot, curves: pd.DataFrame, first: pd.DataFrame, models, stats, n: int | None) -> set[str]:
    """The models of a ratio plot whose ratio to the real curve strays far beyond the others' (``_outliers``),
    over every statistic of the figure; none for a plot without a ratio panel."""
    if not plot.ratio:
        return set()
    model_ratios: dict[str, list[np.ndarray]] = {m: [] for m in models}
    band_extent = 0.0
    for stat in stats:
        ref = _curve(first, stat, "reference")
        if not len(ref):
            continue
        for m in models:
            model_ratios[m].append(_ratio(_curve(curves[curves["model"] == m], stat, "generated"), ref)[1])
        rx, rm = ref["x"].to_numpy(float), ref["mean"].to_numpy(float)
        lo, hi, _ = _band(first, stat, rx, rm, ref["std"].to_numpy(float), n)
        with np.errstate(divide="ignore", invalid="ignore"):
            rel = np.abs(np.log(np.concatenate([lo / rm, hi / rm])))
        if np.isfinite(rel).any():
            band_extent = max(band_extent, float(np.nanmax(rel[np.isfinite(rel)])))
    return _outliers(model_ratios, band_extent)


def _ratio_panels(axes, first: pd.DataFrame, ref: pd.DataFrame, band, ratios: list, far_ratios: list | None) -> None:
    """The ratio panels under a curve (``axes``: its column below the main panel): the real-vs-real band and the
    real test maps' ratio beside the models' (drawn by the caller, ``ratios``), and, when ``far_ratios`` is
    given, the far-off models' panel; each axis fitted to what it shows (``_ratio_limits``)."""
    rx, rm = ref["x"].to_numpy(float), ref["mean"].to_numpy(float)
    ok = rm > 0
    rel_lo = np.where(ok, band[0] / np.where(ok, rm, 1), np.nan)
    rel_hi = np.where(ok, band[1] / np.where(ok, rm, 1), np.nan)
    if np.isfinite(rel_hi).any():
        axes[0].fill_between(rx[ok], rel_lo[ok], rel_hi[ok], color="0.85", lw=0)
        ratios = [*ratios, rel_lo[ok], rel_hi[ok]]
    x, r = _ratio(_curve(first, ref["statistic"].iloc[0], "heldout"), ref)
    axes[0].plot(x, r, "k:", lw=1.2)
    panels = [(axes[0], [*ratios, r], "ratio to real")]
    if far_ratios is not None:
        panels.append((axes[1], far_ratios, "ratio to real\n(far-off models)"))
    for a, values, name in panels:
        a.axhline(1, color="k", lw=0.6)
        scale, lo, hi = _ratio_limits(values)
        a.set_yscale(scale)
        a.set_ylim(lo, hi)
        if scale == "log":  # ratios read as 0.5, 2 rather than 5×10⁻¹, 2×10⁰
            a.yaxis.set_major_formatter(matplotlib.ticker.FormatStrFormatter("%g"))
            a.yaxis.set_minor_formatter(matplotlib.ticker.FormatStrFormatter("%g"))
            if hi / lo > 10:  # every minor tick labelled over more than a decade overlaps: 0.1, 0.2, 0.5, 1, 2, 5
                a.yaxis.set_major_locator(matplotlib.ticker.LogLocator(subs=(1.0, 2.0, 5.0)))
                a.yaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
        a.set_ylabel(name)


def curve_figure(plot: Plot, curves: pd.DataFrame, n: int | None):
    """The figure ``plot`` declares, or None when no statistic of it has curves.

    curves: curve records of one metric (statistic, x, set, mean, std) with a ``model`` column; the real sets are
    taken from the first model's records, every model's "generated" set is drawn (models with identical curves
    once, labelled together). n: maps per set (the band: ``_band``). Below the curves, the ratio to the real
    curve (plots that declare ``ratio``; with several models, one far beyond the others gets a ratio panel of
    its own, so the others stay readable) or else the residual in σ per bin (``_residual_panel``, given n).
    """
    models = list(dict.fromkeys(curves["model"]))
    stats = [s for s in plot.statistics if (curves["statistic"] == s).any()]
    if not stats:
        return None
    groups = _same_curves(curves, models, stats)
    style = {
        m: {"color": f"C{i % 10}", "ls": ("-", "--", "-.", ":")[(i // 10) % 4], "label": " = ".join(same)}
        for i, (m, same) in enumerate(groups.items())
    }
    first = curves[curves["model"] == models[0]]
    far = _far_models(plot, curves, first, list(groups), stats, n)
    residual = not plot.ratio and bool(n)
    rows = (3 if far else 2) if plot.ratio else (2 if residual else 1)
    fig, axes = plt.subplots(
        rows,
        len(stats),
        figsize=(max(6.0, 4.3 * len(stats)), {1: 3.8, 2: 5.5, 3: 7.0}[rows]),
        squeeze=False,
        sharex="col",
        gridspec_kw={"height_ratios": [2, 1, 1][:rows]} if rows > 1 else None,
        layout="constrained",
    )
    for j, stat in enumerate(stats):
        ax = axes[0, j]
        ref = _curve(first, stat, "reference")
        rx, rm = ref["x"].to_numpy(float), ref["mean"].to_numpy(float)
        band_lo, band_hi, band_label = _band(first, stat, rx, rm, ref["std"].to_numpy(float), n)
        if np.isfinite(band_hi).any():
            lo, hi = _y(plot, rx, band_lo), _y(plot, rx, band_hi)
            if plot.yscale == "log":
                lo = np.where(lo > 0, lo, _y(plot, rx, rm) * 1e-3)
            ax.fill_between(rx, lo, hi, color="0.85", lw=0, label=band_label)
        for set_, (line, lw, name) in REAL.items():
            _line(ax, plot, _curve(first, stat, set_), line, lw=lw, label=name)
        ratios: dict[bool, list[np.ndarray]] = {False: [], True: []}  # near models, far-off models
        for m, kw in style.items():
            g = _curve(curves[curves["model"] == m], stat, "generated")
            _line(ax, plot, g, lw=1.4, **kw)
            if plot.ratio and len(ref):
                x, r = _ratio(g, ref)
                ratios[m in far].append(r)
                axes[2 if m in far else 1, j].plot(x, r, lw=1.4, **kw)
        _decorate(fig, ax, plot, stat, len(stats), j)
        if plot.ratio and len(ref):
            _ratio_panels(axes[1:, j], first, ref, (band_lo, band_hi), ratios[False], ratios[True] if far else None)
        elif residual and len(ref):
            _residual_panel(axes[1, j], curves, first, style, ref, (band_lo, band_hi), n)
            axes[1, j].set_ylabel("Δ / σ")
        for a in axes[1:, j]:
            if j:
                a.set_ylabel("")
        axes[-1, j].set_xlabel(plot.xlabel)
    axes[0, 0].legend(fontsize=7)
    if far:
        axes[2, 0].legend(fontsize=7)
    return fig


def _decorate(fig, ax, plot: Plot, stat: str, panels: int, j: int) -> None:
    """The main panel's scales, title and label; on an ℓ axis the angular scale θ = 180°/ℓ (arcmin) on top."""
    ax.set_xscale(plot.xscale)
    if plot.xlabel == "ℓ":
        top = ax.secondary_xaxis("top", functions=(_arcmin, _arcmin))
        top.set_xlabel("θ = 180°/ℓ (arcmin)", fontsize=8)
        top.tick_params(labelsize=7)
        top.xaxis.set_major_formatter(matplotlib.ticker.FormatStrFormatter("%g"))
    ax.set_yscale(plot.yscale, **({"linthresh": 1} if plot.yscale == "symlog" else {}))
    ax.set_title(stat if panels > 1 else plot.title, fontsize=10)
    if panels > 1 and j == 0:
        fig.suptitle(plot.title, fontsize=11)
    ax.set_ylabel(plot.ylabel if j == 0 else "")


def pairs_figure(generated: np.ndarray, extras: dict) -> Picture:
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
        axes[0, j].imshow(generated[gi[j]], vmin=lo, vmax=hi, cmap="magma", interpolation="nearest")
        axes[0, j].set_title(f"d={dist[j]:.3g}", fontsize=7)
        axes[1, j].imshow(train_maps[j], vmin=lo, vmax=hi, cmap="magma", interpolation="nearest")
        for a in axes[:, j]:
            a.set_xticks([])
            a.set_yticks([])
            if "squares" in extras:
                y, x, side = extras["squares"][j]
                a.add_patch(Rectangle((x - 0.5, y - 0.5), side, side, fill=False, edgecolor="cyan", linewidth=0.8))
    axes[0, 0].set_ylabel("generated", fontsize=8)
    axes[1, 0].set_ylabel("nearest train", fontsize=8)
    return png(fig)


ROW_IN = 2.9  # height of one row of a figure of rows (inches)


def _row_layout(rows: int, width_in: float) -> dict:
    """Fixed margins in inches for a figure of ``rows`` rows of two panels, ``ROW_IN`` tall each: the room its
    labels and titles take, set once instead of measured by the constrained layout, which for a dozen rows of
    panels with colour bars is half the figure's drawing time."""
    height = ROW_IN * rows
    top, bottom, gap = 0.3, 0.5, 0.8  # title; x label and ticks; x label of one row and title of the next
    axis = (height - top - bottom - (rows - 1) * gap) / rows
    return {"left": 0.75 / width_in, "right": 1 - 0.5 / width_in, "top": 1 - top / height,
            "bottom": bottom / height, "hspace": gap / axis, "wspace": 0.45}  # fmt: skip


def covariance_figure(panels: dict[str, dict]) -> Picture:
    """What a covariance verdict looks at, one row per statistic: left, σ_generated/σ_real per bin with the grey
    band of real-vs-real draws (too little variety sits below it); right, the generated maps' bin-to-bin
    correlation matrix minus the real maps' on a diverging colour-blind-safe scale (PuOr, symmetric about 0),
    titled with its RMS and the floor the verdict compares it with.

    panels: ``FeatureMetric.covariance_panels``' output, {statistic: {x, xlabel, std_ratio, band_low, band_high,
    corr_difference, corr_rms, corr_floor}}."""
    rows, width = len(panels), 8.4
    fig, axes = plt.subplots(rows, 2, figsize=(width, ROW_IN * rows), squeeze=False,
                             gridspec_kw={"width_ratios": (1.35, 1), **_row_layout(rows, width)})  # fmt: skip
    for (stat, p), (ax, im_ax) in zip(panels.items(), axes):
        x = np.asarray(p["x"], float)
        log_x = p.get("xscale") == "log" and bool((x > 0).all())
        ax.fill_between(x, p["band_low"], p["band_high"], color="0.85", label="real vs real (95%)", step=None)
        ax.plot(x, p["std_ratio"], "o-", color="C1", ms=3, lw=1.2, label="generated / real")
        ax.axhline(1.0, color="k", lw=0.8)
        ax.set_xscale("log" if log_x else "linear")
        ax.set_ylabel(f"σ ratio, {stat}", fontsize=8)
        ax.set_xlabel(p.get("xlabel", "bin"), fontsize=8)
        ax.legend(fontsize=7)
        diff = np.asarray(p["corr_difference"], float)
        lim = max(0.1, float(np.abs(diff).max()))
        im = im_ax.imshow(diff, cmap="PuOr", vmin=-lim, vmax=lim, interpolation="nearest", origin="lower")
        ticks = np.unique(np.linspace(0, len(x) - 1, min(len(x), 4)).round().astype(int))
        labels = [f"{x[i]:,.0f}" if abs(x[i]) >= 100 else f"{x[i]:.2g}" for i in ticks]
        im_ax.set_xticks(ticks, labels, fontsize=7)
        im_ax.set_yticks(ticks, labels, fontsize=7)
        im_ax.set_xlabel(p.get("xlabel", "bin"), fontsize=8)
        floor = p.get("corr_floor", float("nan"))
        im_ax.set_title(
            f"corr. generated − real: RMS {p['corr_rms']:.3f}"
            + (f" (floor {floor:.3f})" if np.isfinite(floor) else ""),
            fontsize=8,
        )
        fig.colorbar(im, ax=im_ax, shrink=0.85)
    return png(fig)


def margin_figure(extras: dict) -> Picture:
    """What the memorisation verdict counts: the distribution of every map's margin ln(d₂/d₁) (how much nearer
    its nearest set is than any other set, over the same square), generated maps split by whether that nearest
    set is a training chunk (orange) or a set of new real maps (purple), held-out real maps in black, and the
    cutoff past which maps are counted. A model that copies has an orange tail past the cutoff; a map that is
    no copy is as likely near new maps as near training maps (the chance given in the title).

    extras: the memorisation metric's, with ``cutoff`` and ``margins`` {generated, to_train, heldout, chance,
    p_value}."""
    m = extras["margins"]
    g, to_train, h = (np.asarray(m[k], float) for k in ("generated", "to_train", "heldout"))
    to_train = to_train.astype(bool)
    cutoff = float(extras["cutoff"])
    # an exact copy (d₁ = 0) has an unbounded margin (stored as the largest float): drawn in the last bin
    bounded = lambda v: np.isfinite(v) & (v < 1e300)  # noqa: E731
    exact = ~bounded(g)
    shown = np.concatenate([g[~exact], h, [cutoff] if np.isfinite(cutoff) else []])
    shown = shown[bounded(shown)]
    bins = np.linspace(0.0, max(float(shown.max()) * 1.05 if len(shown) else 0.0, 1e-3), 50)
    fig, ax = plt.subplots(figsize=(6.4, 3.4), layout="constrained")
    label = f"held-out real maps ({len(h)})"
    ax.hist(np.clip(h, 0, bins[-1]), bins=bins, histtype="step", color="k", lw=1.4, label=label)
    ax.hist([np.clip(g[to_train], 0, bins[-1]), np.clip(g[~to_train], 0, bins[-1])], bins=bins, stacked=True,
            color=["#e66101", "#5e3c99"], alpha=0.75,
            label=[f"generated, nearest a training chunk ({int(to_train.sum())})",
                   f"generated, nearest new real maps ({int((~to_train).sum())})"])  # fmt: skip
    past = g > cutoff
    if np.isfinite(cutoff):
        ax.axvline(cutoff, color="k", ls="--", lw=1.0, label="cutoff (2 × held-out 99th percentile)")
    ax.set_yscale("log")
    if exact.any():
        ax.annotate(f"{int(exact.sum())} exact copies (d₁ = 0) in the last bin", (0.98, 0.6), xycoords="axes fraction",
                    ha="right", fontsize=7)  # fmt: skip
    ax.set_xlabel("margin ln(d₂ / d₁): nearest set vs the next, over the same quarter map")
    ax.set_ylabel("maps")
    ax.set_title(
        f"past the cutoff: {int((past & to_train).sum())} of {int(past.sum())} near a training map "
        f"(chance {m['chance']:.2f} each; p = {m['p_value']:.2g})",
        fontsize=9,
    )
    ax.legend(fontsize=7)
    return png(fig)


def samples_figure(generated: np.ndarray, reference: np.ndarray, k: int = 6, side_deg: float | None = None) -> Picture:
    """k generated maps (top) and k real maps (bottom) on one colour scale (the real maps' 1–99.5 percentiles),
    with its colour bar (κ) and, given ``side_deg``, the maps' side in degrees."""
    fig, axes = plt.subplots(2, k, figsize=(1.6 * k + 0.8, 3.6), layout="constrained")
    lo, hi = np.percentile(reference[:k], [1, 99.5])
    for j in range(k):
        for row_, maps in enumerate((generated, reference)):
            im = axes[row_, j].imshow(maps[j % len(maps)], vmin=lo, vmax=hi, cmap="magma", interpolation="nearest")
            axes[row_, j].set_xticks([])
            axes[row_, j].set_yticks([])
    axes[0, 0].set_ylabel("generated", fontsize=8)
    axes[1, 0].set_ylabel("real", fontsize=8)
    fig.colorbar(im, ax=axes, shrink=0.8, label="κ")
    if side_deg:
        axes[1, 0].set_xlabel(f"{side_deg:g}° × {side_deg:g}°", fontsize=8)
    return png(fig)


def history_figure(records: list[dict], best_step: int | None) -> Picture | None:
    """A run's training history (its log.jsonl): every numeric field a trainer logged per step (losses,
    discriminator scores) against the step, and every numeric field of its per-epoch validation (a floor dashed),
    on a log axis; where the validation records near-copies of training maps (``copies``, from
    ``emubench.validate_generator``), their fraction per epoch in a panel of its own, flagged epochs marked, so
    that the page shows when a model starts to copy. The scored checkpoint (by default the one chosen on
    validation data) is marked. None for a log with neither."""
    skip = {"step", "epoch", "lr", "time_s", "maps_per_s"}
    steps: dict[str, list[tuple[int, float]]] = {}
    checks: dict[str, list[tuple[int, float]]] = {}
    copies: list[tuple[int, float, bool]] = []
    for r in records:
        if "step" not in r:
            continue
        v = r.get("validation") or {}
        if isinstance(v.get("copies"), (int, float)) and np.isfinite(v["copies"]):
            copies.append((r["step"], float(v["copies"]), bool(v.get("copies_flagged"))))
        for key, value in v.items():
            if key.startswith("copies"):
                continue
            if isinstance(value, (int, float)) and not isinstance(value, bool) and np.isfinite(value) and value > 0:
                checks.setdefault(key, []).append((r["step"], float(value)))
        for key, value in r.items():
            if key not in skip and isinstance(value, (int, float)) and not isinstance(value, bool):
                steps.setdefault(key, []).append((r["step"], float(value)))
    if not steps and not checks:
        return None
    panels = [(name, d) for name, d in (("training (per logged step)", steps), ("validation (per epoch)", checks)) if d]
    if copies:
        panels.append(("near-copies of training maps (per epoch)", {}))
    fig, axes = plt.subplots(1, len(panels), figsize=(5.2 * len(panels), 3.4), layout="constrained", squeeze=False)
    for ax, (title, data) in zip(axes[0], panels):
        for i, (key, points) in enumerate(sorted(data.items())):
            x, y = zip(*points)
            ax.plot(x, y, "--" if "floor" in key else "-", color=f"C{i % 10}", lw=1.2, label=key,
                    marker="o" if title.startswith("validation") else None, ms=3)  # fmt: skip
        if title.startswith("validation"):
            ax.set_yscale("log")
        if title.startswith("near-copies"):
            x, y, flagged = zip(*copies)
            ax.plot(x, y, "o-", color="C0", lw=1.2, ms=3, label="fraction of generated maps")
            bad = [(a, b) for a, b, f in copies if f]
            if bad:
                ax.plot(*zip(*bad), "x", color="C3", ms=8, mew=2, label="memorisation flagged")
            ax.set_ylim(-0.02, max(0.1, 1.1 * max(y)))
            ax.set_ylabel("fraction")
        if best_step is not None:
            ax.axvline(best_step, color="k", lw=0.8, ls=":", label=f"scored checkpoint (step {best_step})")
        ax.set_title(title, fontsize=10)
        ax.set_xlabel("optimiser step")
        ax.legend(fontsize=7)
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
        fig.savefig(tmp, format="png", dpi=DPI)
    if vector_copies():
        with atomic_path(os.fspath(path).removesuffix(".png") + ".pdf") as tmp:  # the vector copy beside it
            fig.savefig(tmp, format="pdf", metadata={"CreationDate": None})
    plt.close(fig)
