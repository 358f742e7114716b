"""The report of an emulator scored at every cosmology of a dataset (``scoring.score_cosmologies``).

Folder: scores.csv (every row of every cosmology, with its parameters and group), verdicts.csv (each verdict at
each cosmology), summary.csv (one verdict per group, metric and aspect across cosmologies), curves.csv,
score.json, summary.md, inferred_parameters.csv and report.html: first the size and sign of the biases (the
parameters inferred from generated vs real maps in numbers, per group of cosmologies, and signed planes), then
the verdicts across cosmologies (where each flagged alone as a grid of the design), each verdict as a map over
the parameter plane (training cosmologies as circles, held-out ones as stars; red where flagged), and, for
``parameter-bias``, the parameters inferred from generated maps against those from real maps at every cosmology
and the 68%/95% posterior contours of both at the design's centre, a corner and every held-out cosmology, with
the prior's box; then the power spectrum across cosmologies (generated / real at each, coloured by σ8, and the
response of ln C_ℓ to each parameter, real vs generated) and sample maps across the parameter plane.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

from ..io import atomic_folder, write_bytes, write_json, write_text
from .pages import _write_df, environment, keep_vector, null_draws
from .plots import Picture, plt, png
from .tables import cost_text, flatten, fmt, fmt_p

LABELS = {"omega_m": "Ωm", "sigma8": "σ8"}
GROUPS = {"train": "training", "heldout": "held-out"}  # groups of cosmologies of a score across cosmologies


def where_grid(per: pd.DataFrame, names: list[str], metric: str, aspect: str, group: str) -> list[list[dict]] | None:
    """Where a verdict flagged alone, as the design's grid (rows: the second parameter, high at the top; columns:
    the first), each cell {"flag": bool, "title": the cosmology}; None when the group's cosmologies are not a
    full grid (the held-out ones sit between grid points: their few cosmologies are listed as text)."""
    g = per[(per["metric"] == metric) & (per["aspect"] == aspect) & (per["cosmology"] == group)]
    if len(names) < 2 or g.empty:
        return None
    x, y = names[0], names[1]
    xs, ys = sorted(set(g[x])), sorted(set(g[y]), reverse=True)
    if len(xs) * len(ys) != len(g) or len(xs) < 3 or len(ys) < 3:
        return None
    flag = {(a, b): v == "flag" for a, b, v in zip(g[x], g[y], g["verdict"])}
    return [
        [{"flag": flag[(a, b)], "title": f"{LABELS.get(x, x)}={a:g}, {LABELS.get(y, y)}={b:g}"} for a in xs] for b in ys
    ]


def inferring(scores: pd.DataFrame, names: list[str]) -> pd.DataFrame:
    """The rows of the metric that infers the parameters (``parameter-bias``): the first whose results hold the
    statistics ``<parameter>-reference`` and ``<parameter>-generated``, the convention such a metric follows
    (docs/plugins.md); empty when none does."""
    if not names:
        return scores.iloc[:0]
    metrics = scores.loc[scores["statistic"] == f"{names[0]}-generated", "metric"]
    return scores[scores["metric"] == metrics.iloc[0]] if len(metrics) else scores.iloc[:0]


def inferred_parameters(scores: pd.DataFrame, names: list[str]) -> pd.DataFrame:
    """``parameter-bias`` at every cosmology as a table: per cosmology and parameter (those the metric infers,
    and the lensing combination S8 = σ8 (Ωm/0.3)^0.5 from the posterior means when both are), the value
    inferred from real (reference) and from generated maps, the difference (absolute, relative in %, and in
    units of the reference posterior's standard deviation where the metric gives it) and whether the verdict
    flagged that parameter. Empty without that metric."""
    pb = inferring(scores, names)
    rows = []
    for key, g in pb.groupby([*names, "cosmology"], sort=False):
        theta, group = dict(zip(names, key[:-1])), key[-1]
        by = g.set_index("statistic")
        inferred = {}
        for p in names:
            if f"{p}-reference" not in by.index:
                continue
            ref, gen = float(by.loc[f"{p}-reference", "value"]), float(by.loc[f"{p}-generated", "value"])
            sigma = (float(by.loc[f"{p}-reference", "ci_high"]) - float(by.loc[f"{p}-reference", "ci_low"])) / 4
            inferred[p] = (ref, gen, sigma, bool(by.loc[f"{p}-shift", "flagged"]))
        if {"omega_m", "sigma8"} <= set(inferred):
            om, s8 = inferred["omega_m"], inferred["sigma8"]
            s8_of = [s8[i] * (om[i] / 0.3) ** 0.5 for i in (0, 1)]  # reference, generated
            inferred["S8"] = (*s8_of, np.nan, None)  # derived: no verdict of its own
        for p, (ref, gen, sigma, flagged) in inferred.items():
            rows.append(
                {
                    **theta,
                    "cosmology": group,
                    "parameter": p,
                    "reference": ref,
                    "generated": gen,
                    "delta": gen - ref,
                    "delta_pct": 100 * (gen - ref) / ref,
                    "delta_sigma": (gen - ref) / sigma if sigma > 0 else np.nan,
                    "flagged": flagged,
                }
            )
    return pd.DataFrame(rows)


def bias_summary(table: pd.DataFrame) -> pd.DataFrame:
    """``inferred_parameters`` summarised per group of cosmologies and parameter: the mean and spread over the
    cosmologies of Δ (absolute, %, σ), at how many cosmologies Δ has the sign of the mean, how many flagged."""
    out = []
    for (group, p), g in table.groupby(["cosmology", "parameter"], sort=False):
        mean = g["delta"].mean()
        out.append(
            {
                "cosmology": group,
                "parameter": p,
                "cosmologies": len(g),
                "delta_mean": mean,
                "delta_sd": g["delta"].std(ddof=1) if len(g) > 1 else np.nan,
                "pct_mean": g["delta_pct"].mean(),
                "pct_sd": g["delta_pct"].std(ddof=1) if len(g) > 1 else np.nan,
                "sigma_mean": g["delta_sigma"].mean(),
                "sigma_sd": g["delta_sigma"].std(ddof=1) if len(g) > 1 else np.nan,
                "same_sign": int((np.sign(g["delta"]) == np.sign(mean)).sum()),
                "flagged": int(g["flagged"].sum()) if g["flagged"].notna().all() else None,
            }
        )
    return pd.DataFrame(out)


def bias_sentences(summary: pd.DataFrame) -> list[str]:
    """The parameter bias in words, one sentence per group and parameter, e.g. "σ8 is inferred 2.1% high
    (+0.017, +3.9σ; spread 0.6%) at 24 of 25 training cosmologies"."""
    out = []
    for r in summary.itertuples():
        sigma = f", {r.sigma_mean:+.1f}σ" if np.isfinite(r.sigma_mean) else ""
        spread = f"; spread {r.pct_sd:.1f}% between cosmologies" if np.isfinite(r.pct_sd) else ""
        side = "high" if r.pct_mean > 0 else "low"
        name, where = LABELS.get(r.parameter, r.parameter), GROUPS.get(r.cosmology, r.cosmology)
        # coherent: the mean shift is beyond twice its standard error over the cosmologies
        coherent = not np.isfinite(r.pct_sd) or abs(r.pct_mean) > 2 * r.pct_sd / np.sqrt(r.cosmologies)
        if coherent:
            out.append(
                f"{name} is inferred {abs(r.pct_mean):.1f}% {side} from the generated maps ({r.delta_mean:+.3f}"
                f"{sigma}{spread}): {side} at {r.same_sign} of {r.cosmologies} {where} cosmologies"
            )
        else:
            out.append(
                f"{name}: no coherent shift at the {where} cosmologies (mean {r.pct_mean:+.1f}%{sigma}{spread}; "
                f"{side} at {r.same_sign} of {r.cosmologies})"
            )
    return out


def signed_planes_figure(scores: pd.DataFrame, table: pd.DataFrame, names: list[str]) -> Picture | None:
    """The size and sign of each bias over the parameter plane, on a diverging colour-blind-safe scale (PuOr,
    symmetric about 0): the power spectrum's amplitude − 1 and the relative bias of each inferred parameter
    (and S8), in %. Circles: training cosmologies, stars: held-out ones; a black ring where the verdict flags."""
    x, y = names[0], names[1]
    panels: list[tuple[str, pd.DataFrame]] = []
    with_amplitude = scores.loc[scores["statistic"] == "amplitude", "metric"]  # power-spectrum (FeatureMetric)
    if len(with_amplitude):
        metric = with_amplitude.iloc[0]
        amp = scores[(scores["metric"] == metric) & (scores["statistic"] == "amplitude")]
        panels.append((f"{metric} amplitude − 1 (%)", amp.assign(v=100 * (amp["value"] - 1))))
    for p in dict.fromkeys(table["parameter"]) if len(table) else []:
        t = table[table["parameter"] == p]
        panels.append((f"Δ{LABELS.get(p, p)} / {LABELS.get(p, p)} (%), generated − real", t.assign(v=t["delta_pct"])))
    if not panels:
        return None
    fig, axes = plt.subplots(1, len(panels), figsize=(3.9 * len(panels), 3.4), layout="constrained", squeeze=False)
    for ax, (title, t) in zip(axes[0], panels):
        lim = max(float(np.nanmax(np.abs(t["v"]))), 1e-3)
        for group, marker, size in (("train", "o", 90), ("heldout", "*", 260)):
            sel = t[t["cosmology"] == group]
            sc = ax.scatter(sel[x], sel[y], c=sel["v"], cmap="PuOr_r", vmin=-lim, vmax=lim, marker=marker, s=size,
                            edgecolors=np.where(sel["flagged"].fillna(False).astype(bool), "k", "0.6"),
                            linewidths=np.where(sel["flagged"].fillna(False).astype(bool), 1.6, 0.4))  # fmt: skip
        fig.colorbar(sc, ax=ax, shrink=0.9)
        ax.set_title(title, fontsize=9)
        ax.set_xlabel(LABELS.get(x, x))
        ax.set_ylabel(LABELS.get(y, y))
        ax.tick_params(labelsize=8)
    return png(fig)


def plane_figure(per: pd.DataFrame, names: list[str]) -> Picture:
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


def bias_figure(scores: pd.DataFrame, names: list[str]) -> Picture | None:
    """``parameter-bias``: at each cosmology, an arrow from the parameters inferred from real (reference) maps
    to those inferred from generated maps, and a cross at the true parameters; None without that metric."""
    pb = inferring(scores, names)
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


def credible_levels(w: np.ndarray, masses: tuple[float, ...] = (0.95, 0.68)) -> list[float]:
    """The density thresholds of a gridded posterior ``w`` (any shape, summing to 1) whose upper sets hold
    ``masses`` of it (the 95% and 68% highest-posterior regions), ascending as a contour plot wants them."""
    v = np.sort(np.asarray(w, np.float64).ravel())[::-1]
    c = np.cumsum(v)
    return sorted(float(v[min(np.searchsorted(c, m), len(v) - 1)]) for m in masses)


def contour_cosmologies(thetas: list[tuple], heldout: set[tuple]) -> list[tuple]:
    """Where the report draws posterior contours: the training cosmology nearest the centre of the design, the
    corner of lowest first and highest second parameter (high σ8, low Ωm: the edge of the lensing degeneracy),
    and every held-out cosmology."""
    train = np.array([t for t in thetas if t not in heldout])
    if not len(train):
        return sorted(heldout)
    lo, hi = train.min(0), train.max(0)
    scaled = (train - lo) / np.where(hi > lo, hi - lo, 1.0)
    centre = tuple(train[np.argmin(((scaled - 0.5) ** 2).sum(1))])
    corner = tuple(train[np.argmin((scaled[:, 0] - 0.0) ** 2 + (scaled[:, 1] - 1.0) ** 2)])
    return list(dict.fromkeys([centre, corner, *sorted(heldout)]))


def zoom(ax_x: np.ndarray, ax_y: np.ndarray, posteriors: list[np.ndarray], theta: tuple) -> tuple[tuple, tuple]:
    """Axis limits (x, y) of a contour panel, GetDist-style: around the 95% regions of the ``posteriors`` (each
    (len(ax_x), len(ax_y)) on the grid) and the true parameters ``theta``, with a quarter of that extent (and at
    least two grid cells) on each side, within the prior box plus 5%. Per axis, a region wider than 60% of the
    box shows the whole box: small contours are readable and a wide one keeps its prior edge in view."""
    inside = np.zeros((len(ax_x), len(ax_y)), bool)
    for w in posteriors:
        inside |= w >= credible_levels(w)[0]
    limits = []
    for grid, axis, t in ((np.asarray(ax_x, float), 1, theta[0]), (np.asarray(ax_y, float), 0, theta[1])):
        box = grid[-1] - grid[0]
        covered = grid[inside.any(axis=axis)]
        lo, hi = min(covered.min(), t), max(covered.max(), t)
        if box <= 0 or hi - lo > 0.6 * box:
            lo, hi = grid[0], grid[-1]
        pad = max(0.25 * (hi - lo), 2 * box / max(len(grid) - 1, 1))
        limits.append((max(lo - pad, grid[0] - 0.05 * box), min(hi + pad, grid[-1] + 0.05 * box)))
    return limits[0], limits[1]


REFINE = 6  # contour grid points per posterior grid cell and axis


def refined(ax_x: np.ndarray, ax_y: np.ndarray, w: np.ndarray, factor: int = REFINE):
    """A gridded posterior w (len(ax_x), len(ax_y)) on a grid ``factor`` times finer: bicubic in log w, where a
    Gaussian posterior is quadratic, so contours drawn on it are smooth ellipses rather than the polygons of the
    coarse grid (GetDist smooths its samples for the same reason). Cells where w is 0 stay far below any level.
    Returns (fine x, fine y, fine w) with fine w (len(fine x), len(fine y))."""
    from scipy.interpolate import RectBivariateSpline

    fx = np.linspace(ax_x[0], ax_x[-1], factor * (len(ax_x) - 1) + 1)
    fy = np.linspace(ax_y[0], ax_y[-1], factor * (len(ax_y) - 1) + 1)
    floor = w.max() * 1e-12  # ~ −28 in log: far outside the 95% region of any posterior worth drawing
    order = min(3, len(ax_x) - 1, len(ax_y) - 1)
    log_w = RectBivariateSpline(ax_x, ax_y, np.log(np.maximum(w, floor)), kx=order, ky=order)(fx, fy)
    return fx, fy, np.exp(log_w)


def draw_posterior(ax, ax_x: np.ndarray, ax_y: np.ndarray, w: np.ndarray, colour: str) -> str:
    """The 68% (thick) and 95% (thin) contours of a gridded posterior w (len(ax_x), len(ax_y)): the levels are
    the grid's own highest-posterior masses, drawn on its smooth refinement (``refined``). One whose mass sits in
    a single grid cell (piled at a prior edge, say) has no contour, so its mode is marked (a diamond) instead of
    nothing being drawn. Returns what was drawn: "contours" or "mode"."""
    levels = credible_levels(w)
    if levels[0] < levels[1]:
        fine_x, fine_y, fine_w = refined(ax_x, ax_y, w)
        ax.contour(fine_x, fine_y, fine_w.T, levels=levels, colors=colour, linewidths=(0.9, 1.6))
        return "contours"
    i, j = np.unravel_index(np.argmax(w), w.shape)
    ax.plot(ax_x[i], ax_y[j], marker="D", color=colour, ms=7, ls="none")
    return "mode"


def posterior_figure(extras: dict, names: list[str], heldout: set[tuple]) -> Picture | None:
    """68% and 95% contours of the posterior of the metric that infers the parameters (parameter-bias: a
    real-maps likelihood, flat prior over the box of training cosmologies, drawn as its boundary) from n real maps
    (black) and n generated maps (orange) at a few cosmologies (``contour_cosmologies``), the true parameters
    marked; None without posteriors."""
    # the metric that infers the parameters puts its gridded posteriors in its extras (``posterior``)
    posts = {
        theta: found["posterior"]
        for theta, by_metric in extras.items()
        for found in by_metric.values()
        if isinstance(found, dict) and "posterior" in found
    }
    if not posts or len(names) != 2:
        return None
    where = contour_cosmologies(list(posts), heldout)
    # three panels a row: six in one row were too small to read at the page's width
    cols = min(3, len(where))
    rows = -(-len(where) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3.6 * cols, 3.4 * rows), layout="constrained", squeeze=False)
    for ax in axes.flat[len(where) :]:
        ax.set_axis_off()
    for ax, theta in zip(axes.flat, where):
        p = posts[theta]
        ax_x, ax_y = (np.asarray(a) for a in p["axes"])
        for label, colour in (("reference", "k"), ("generated", "#e66101")):
            draw_posterior(ax, ax_x, ax_y, np.asarray(p[label], np.float64), colour)
            ax.plot([], [], color=colour, label="real maps" if label == "reference" else "generated maps")
        ax.add_patch(plt.Rectangle((ax_x[0], ax_y[0]), ax_x[-1] - ax_x[0], ax_y[-1] - ax_y[0], fill=False,
                                   edgecolor="0.5", linestyle="--", linewidth=0.8))  # fmt: skip
        ax.plot(*theta, marker="*" if theta in heldout else "+", color="#5e3c99", ms=12, mew=2, ls="none")
        xlim, ylim = zoom(ax_x, ax_y, [np.asarray(p[k], np.float64) for k in ("reference", "generated")], theta)
        ax.set_xlim(*xlim)
        ax.set_ylim(*ylim)
        where_text = ", ".join(f"{LABELS.get(n_, n_)}={v:g}" for n_, v in zip(names, theta))
        ax.set_title(f"{'held-out' if theta in heldout else 'training'}: {where_text}", fontsize=8)
        ax.set_xlabel(LABELS.get(names[0], names[0]))
        ax.set_ylabel(LABELS.get(names[1], names[1]))
        ax.tick_params(labelsize=7)
    axes[0, 0].legend(fontsize=7, loc="lower left")
    return png(fig)


def spectrum_figure(curves: pd.DataFrame, names: list[str], statistic: str = "C_ell") -> Picture | None:
    """The power spectrum across cosmologies. Left: generated / real mean C_ℓ at every cosmology, coloured by
    the second parameter (σ8; viridis), held-out cosmologies dashed, over the grey central 95% of the
    real-vs-real draws' ratio (the median band over cosmologies). Right, one panel per parameter: the response
    ∂ ln C_ℓ / ∂ ln θ, fitted at each ℓ by least squares of ln C_ℓ on (1, ln θ₁, ln θ₂) over the training
    cosmologies, from real maps (black) and generated maps (orange): a conditional emulator must follow the
    real response, an unconditional one has none. None without C_ℓ curves at several cosmologies."""
    c = curves[curves["statistic"] == statistic] if len(curves) else curves
    if c.empty or len(names) < 2:
        return None
    wide = c.pivot_table(index=[*names, "cosmology", "x"], columns="set", values="mean").reset_index()
    if not {"generated", "reference"} <= set(wide.columns):
        return None
    wide["ratio"] = wide["generated"] / wide["reference"]
    colour_by = names[1]
    lo, hi = wide[colour_by].min(), wide[colour_by].max()
    cmap = plt.get_cmap("viridis")
    fig, axes = plt.subplots(1, 1 + len(names), figsize=(4.4 * (1 + len(names)), 3.5), layout="constrained")
    ax = axes[0]
    if {"null-low", "null-high"} <= set(wide.columns):
        band = wide.assign(lo=wide["null-low"] / wide["reference"], hi=wide["null-high"] / wide["reference"])
        band = band.groupby("x")[["lo", "hi"]].median()
        ax.fill_between(band.index, band["lo"], band["hi"], color="0.85", label="real vs real (95%, median)")
    for (theta_c, group), g in wide.groupby([colour_by, "cosmology"], sort=False):
        for _, gg in g.groupby(names[0]):
            colour = cmap((theta_c - lo) / (hi - lo) if hi > lo else 0.5)
            ax.plot(gg["x"], gg["ratio"], color=colour, lw=1.0, ls="--" if group == "heldout" else "-")
    ax.axhline(1.0, color="k", lw=0.8)
    ax.set_xscale("log")
    ax.set_xlabel("ℓ")
    ax.set_ylabel(f"{statistic}: generated / real")
    ax.legend(fontsize=7)
    sm = plt.cm.ScalarMappable(cmap=cmap, norm=plt.Normalize(lo, hi))
    fig.colorbar(sm, ax=ax, label=LABELS.get(colour_by, colour_by), shrink=0.85)
    train = wide[wide["cosmology"] == "train"]
    response = {label: log_response(train, names, label) for label in ("reference", "generated")}
    for j, p in enumerate(names):
        ax = axes[1 + j]
        for label, colour in (("reference", "k"), ("generated", "#e66101")):
            xs, slopes = response[label]
            ax.plot(xs, slopes[:, j], "o-" if label == "generated" else "-", color=colour, ms=3, lw=1.3,
                    label="real maps" if label == "reference" else "generated maps")  # fmt: skip
        ax.axhline(0.0, color="0.6", lw=0.8)
        ax.set_xscale("log")
        ax.set_xlabel("ℓ")
        ax.set_ylabel(f"∂ ln {statistic} / ∂ ln {LABELS.get(p, p)}")
        ax.legend(fontsize=7)
    return png(fig)


def log_response(table: pd.DataFrame, names: list[str], column: str) -> tuple[np.ndarray, np.ndarray]:
    """(x (B,), slopes (B, P)): at each bin x, the least-squares slopes of ln ``column`` on the logs of the
    parameters ``names`` (with an intercept) over the rows of ``table`` (one per cosmology and bin): the local
    response ∂ ln y / ∂ ln θ of a curve such as C_ℓ (≈ 2 for σ8 in the linear regime)."""
    xs = np.array(sorted(set(table["x"])))
    slopes = []
    for x in xs:
        at = table[table["x"] == x]
        design = np.column_stack([np.ones(len(at))] + [np.log(at[p].to_numpy(np.float64)) for p in names])
        y = np.log(np.maximum(at[column].to_numpy(np.float64), 1e-300))
        coef, *_ = np.linalg.lstsq(design, y, rcond=None)
        slopes.append(coef[1:])
    return xs, np.array(slopes)


def sample_grid_figure(grid: list[dict], names: list[str]) -> Picture | None:
    """One generated map beside one real map at k × k cosmologies of the design (second parameter up, first to
    the right), all on one colour scale (the real maps' 1–99.5 percentiles) so the trend over the plane shows;
    None without a grid."""
    if not grid:
        return None
    k = int(round(np.sqrt(len(grid))))
    if k * k != len(grid):
        return None
    real = np.stack([g["real"] for g in grid])
    vmin, vmax = np.percentile(real, [1, 99.5])
    fig, axes = plt.subplots(k, 2 * k, figsize=(1.5 * 2 * k + 0.8, 1.6 * k + 0.3), layout="constrained")
    for i, g in enumerate(grid):
        r, col = divmod(i, k)
        where_text = ", ".join(f"{LABELS.get(n_, n_)}={v:g}" for n_, v in zip(names, g["params"]))
        for j, (label, m) in enumerate((("generated", g["generated"]), ("real", g["real"]))):
            a = axes[r, 2 * col + j]
            im = a.imshow(m, vmin=vmin, vmax=vmax, cmap="magma", interpolation="nearest")
            a.set_xticks([])
            a.set_yticks([])
            a.set_title(where_text if j == 0 else "", fontsize=6, loc="left")
            a.set_xlabel(label, fontsize=6, labelpad=1)
    fig.colorbar(im, ax=axes, shrink=0.8, label="κ")
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
        f"{fmt_p(r.p_value)} | {r.where or '—'} |"
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
        ("cost", cost_text(info)),
        ("null", f"{cal.get('null_draws')} draws per cosmology ({cal.get('null')})"),
        ("emubench", str(info.get("emubench_version"))),
    ]


CAPTIONS = {
    "posterior contours": "68% (thick) and 95% (thin) credible regions of the parameters from n real maps (black) "
    "and n generated maps (orange) at the centre of the design, at its corner of low Ωm and high σ8, and at every "
    "held-out cosmology (star; +: the true parameters of a training cosmology). The likelihood is built from real "
    "training maps only; its flat prior spans the box of training cosmologies (dashed): a region cut by the box is "
    "held up by the prior, not by the maps.",
    "power spectrum across cosmologies": "left: the generated maps' mean C_ℓ over the real maps' at every cosmology, "
    "coloured by σ8 (held-out cosmologies dashed), over the real-vs-real band; right: how C_ℓ responds to each "
    "parameter (the slope of ln C_ℓ on ln Ωm and ln σ8 over the training cosmologies), real vs generated: an "
    "emulator that ignores a parameter has a flat orange line at 0.",
    "sample maps across the parameter plane": "one generated map (left of each pair) and one real map at the lowest, "
    "middle and highest Ωm (left to right) and σ8 (bottom to top) of the design, on one colour scale (κ)",
}


def write_cosmology_report(
    out: str | os.PathLike,
    scores: pd.DataFrame,
    per: pd.DataFrame,
    summary: pd.DataFrame,
    curves: pd.DataFrame,
    info: dict,
    extras: dict | None = None,
    samples: list[dict] | None = None,
) -> Path:
    """Write the folder described in the module docstring under ``out``, swapped in whole at the end. ``per``:
    the verdicts at each cosmology (``scoring.cosmology_verdicts``), ``summary``: across them; ``extras``: the
    metrics' extras per cosmology (``score_cosmologies(extras=)``: the posteriors drawn as contours); ``samples``:
    maps across the parameter plane (``pipeline.sample_grid``)."""
    names = list(info["parameters"])
    draws = null_draws(info)
    plane = plane_figure(per, names)
    bias = bias_figure(scores, names)
    heldout = {tuple(map(float, t)) for t in info.get("heldout_params") or []}
    figures = {
        "posterior contours": posterior_figure(extras or {}, names, heldout),
        "power spectrum across cosmologies": spectrum_figure(curves, names),
        "sample maps across the parameter plane": sample_grid_figure(samples or [], names),
    }
    inferred = inferred_parameters(scores, names)
    summary_bias = bias_summary(inferred) if len(inferred) else pd.DataFrame()
    signed = signed_planes_figure(scores, inferred, names)
    vectors: dict[str, bytes] = {}
    signed_pdf = keep_vector(vectors, "figures", "biases over the parameter plane", signed) if signed else None
    plane_pdf = keep_vector(vectors, "figures", "verdicts over the parameter plane", plane)
    bias_pdf = keep_vector(vectors, "figures", "inferred parameters", bias) if bias else None
    more = [
        {"title": title, "png": fig, "pdf": keep_vector(vectors, "figures", title, fig), "caption": CAPTIONS[title]}
        for title, fig in figures.items()
        if fig
    ]
    with atomic_folder(out) as work:
        for name, pdf in vectors.items():
            write_bytes(work / name, pdf)
        _write_df(work / "scores.csv", scores)
        _write_df(work / "verdicts.csv", per)
        _write_df(work / "summary.csv", summary)
        _write_df(work / "curves.csv", curves)
        if len(inferred):
            _write_df(work / "inferred_parameters.csv", inferred)
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
                    {
                        **r,
                        "p_value": fmt_p(r["p_value"]),
                        "where": r["where"] if isinstance(r["where"], str) and r["where"] else "—",
                        "grid": where_grid(per, names, r["metric"], r["aspect"], r["cosmology"]),
                    }
                    for r in summary.to_dict("records")
                ],
                n_flags=int((summary["verdict"] == "flag").sum()),
                bias_sentences=bias_sentences(summary_bias) if len(summary_bias) else [],
                bias_table=[
                    {
                        "group": GROUPS.get(r.cosmology, r.cosmology),
                        "parameter": LABELS.get(r.parameter, r.parameter),
                        "delta": f"{r.delta_mean:+.4f} ± {r.delta_sd:.4f}",
                        "pct": f"{r.pct_mean:+.2f}% ± {r.pct_sd:.2f}%",
                        "sigma": f"{r.sigma_mean:+.2f} ± {r.sigma_sd:.2f}" if np.isfinite(r.sigma_mean) else "—",
                        "same_sign": f"{r.same_sign} of {r.cosmologies}",
                        "flagged": "—" if pd.isna(r.flagged) else f"{int(r.flagged)} of {r.cosmologies}",
                    }
                    for r in summary_bias.itertuples()
                ],
                signed=signed,
                signed_pdf=signed_pdf,
                plane=plane,
                plane_pdf=plane_pdf,
                bias=bias,
                bias_pdf=bias_pdf,
                more=more,
                per=[
                    {**r, "p_value": fmt_p(r["p_value"], draws), "params": ", ".join(f"{k}={r[k]:g}" for k in names)}
                    for r in per.to_dict("records")
                ],
                manifest=flatten(info),
                method=METHOD.format(**method_args(info)),
            )
        )
        write_text(work / "report.html", html)
    return Path(out)
