"""The report's tables as plain data: verdict cards, per-metric summary rows, the manifest, Markdown tables.

Pages (HTML and Markdown) render what these return; nothing here formats for one page only.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from ..scoring import verdicts
from .display import Display


def fmt(x: Any) -> str:
    """Numbers to 4 significant digits; everything else as text."""
    if isinstance(x, (bool, np.bool_)):
        return str(bool(x))
    if isinstance(x, (float, np.floating)):
        return f"{x:.4g}" if np.isfinite(x) else str(x)
    return str(x)


def fmt_p(p: float, draws: int | None = None) -> str:
    """A p-value as read: '≤ 1/1,001' at the resolution of a test on ``draws`` null draws (no draw exceeded the
    observed value, so the p-value is only bounded), '< 1e-10' below what any combination here resolves, else 2
    significant digits; '' for none."""
    if p is None or not np.isfinite(p):
        return ""
    if draws and p <= (1 + 1e-9) / (draws + 1):
        return f"≤ 1/{draws + 1:,}"
    if p < 1e-10:
        return "< 1e-10"
    return f"{p:.2g}"


def fmt_rate(x: float) -> str:
    """A throughput (maps/s) as read: thousands separated, 3 significant digits below 100; '—' for none."""
    if x is None or not np.isfinite(x):
        return "—"
    return f"{x:,.0f}" if x >= 100 else f"{x:.3g}"


def fmt_count(n: int | None) -> str:
    """A parameter count as read: 3.58M, 12.3k, 950; '—' for none."""
    if n is None:
        return "—"
    for div, unit in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if n >= div:
            return f"{n / div:.3g}{unit}"
    return str(int(n))


def fmt_seconds(s: float | None) -> str:
    """A duration as read: 0.42 s, 38 s, 12 min 5 s, 3 h 20 min; '—' for none."""
    if s is None or not np.isfinite(s):
        return "—"
    if s < 60:
        return f"{s:.2g} s" if s < 10 else f"{s:.0f} s"
    if s < 3600:
        return f"{int(s // 60)} min {int(s % 60)} s"
    return f"{int(s // 3600)} h {int(s % 3600 // 60)} min"


def cost_cells(info: dict) -> dict[str, Any]:
    """A score's cost (score.json ``cost``, ``models.model_cost``) as the leaderboard's cells: parameters,
    training (or fitting) and sampling as text, and the numbers ``n_parameters`` and ``sample_ms``; scores
    written before costs were recorded show their throughput only."""
    cost = info.get("cost") or {}
    training = cost.get("training")
    if training:
        procs = f" × {training['processes']}" if (training.get("processes") or 1) > 1 else ""
        steps = f"{training['steps']} steps" if training.get("steps") is not None else "steps not recorded"
        where = f"{steps} on {training.get('device')}{procs} ({training.get('precision')})"
        seconds = training.get("seconds")
        train = f"{where}; time not recorded" if seconds is None else f"{fmt_seconds(seconds)}, {where}"
    elif cost.get("fit_seconds") is not None:
        train = f"fit {fmt_seconds(cost['fit_seconds'])} (training-free)"
    else:
        train = "—"
    ms = cost.get("sample_ms_per_map")
    if ms is None:
        rate = info.get("throughput_maps_per_s")
        ms = 1000.0 / rate if rate and np.isfinite(rate) and rate > 0 else None
    sample = "—" if ms is None else f"{ms:.3g} ms/map on {cost.get('sample_device') or info.get('device')}"
    if ms is not None and cost.get("sampling"):
        sample += f" ({cost['sampling']})"
    if cost.get("peak_memory_mb") is not None:
        sample += f", peak {cost['peak_memory_mb']:.0f} MiB"
    return {
        "parameters": fmt_count(cost.get("parameters")),
        "training": train,
        "sampling": sample,
        "n_parameters": cost.get("parameters"),  # the numbers, for sorting and the CSV
        "sample_ms": ms,
    }


def cost_text(info: dict) -> str:
    """A score's cost in one line, for its report's header."""
    c = cost_cells(info)
    if not info.get("cost"):
        return f"not recorded (maps scored from a file, or an older score); sampling {c['sampling']}"
    return f"{c['parameters']} parameters; training: {c['training']}; sampling: {c['sampling']}"


def times_floor(value: float, ideal: float, floor: float, one_sided: bool = False) -> float:
    """|value − ideal| as a multiple of the floor it must exceed to be flagged (NaN without a floor); for a
    one-sided row (only values above the ideal are bad) value − ideal, so a value below its ideal reads as
    negative, not as a distance."""
    if not (np.isfinite(floor) and floor > 0 and np.isfinite(value) and np.isfinite(ideal)):
        return float("nan")
    return (value - ideal) / floor if one_sided else abs(value - ideal) / floor


def times_text(mult: float, suffix: str = "") -> str:
    """A multiple of the floor as read: '3.2×', 'below ideal' for a one-sided row on the good side, '' for none."""
    if not np.isfinite(mult):
        return ""
    return "below ideal" if mult < 0 else f"{mult:.2g}×{suffix}"


def summary_row(r: Any, draws: int | None = None) -> dict[str, Any]:
    """One summary row of scores.csv, formatted: value, ideal, floor, ×floor, interval, p-value (``fmt_p`` with
    the score's null draws), flag."""
    ci_low, ci_high = getattr(r, "ci_low", np.nan), getattr(r, "ci_high", np.nan)
    ci = f"{fmt(ci_low)} – {fmt(ci_high)}" if np.isfinite(ci_low) and np.isfinite(ci_high) else ""
    mult = times_floor(r.value, r.ideal, r.floor, bool(getattr(r, "one_sided", False)))
    return {
        "statistic": r.statistic,
        "aspect": r.aspect,
        "value": fmt(r.value),
        "ideal": fmt(r.ideal),
        "floor": fmt(r.floor) if np.isfinite(r.floor) else "",
        "times": times_text(mult),
        "times_value": mult,
        "ci": ci,
        "p_value": fmt_p(r.p_value, draws),
        "flagged": bool(r.flagged),
        "one_sided": bool(getattr(r, "one_sided", False)),
    }


def verdict_cards(
    scores: pd.DataFrame,
    display: dict[str, Display],
    draws: int | None = None,
    dataset: str | None = None,
    n: int | None = None,
) -> list[dict[str, Any]]:
    """One card per (metric, aspect) verdict: pass/flag, its family-wise p-value, its headline rows (the
    metric's declared headline statistics of this aspect, else the row nearest to being flagged), the flagged
    statistics, what a flag means, and what it would have flagged (``reach.can_see`` for ``dataset`` at ``n``
    maps; or the reach a metric measures itself, as the memorisation check does: ``reach.own_reach``)."""
    from .reach import can_see, own_reach

    cards = []
    summary = scores[scores["summary"].astype(bool)]
    for v in verdicts(scores).itertuples():
        rows = summary[(summary["metric"] == v.metric) & (summary["aspect"] == v.aspect)]
        d = display.get(v.metric, Display(v.metric))
        head = rows[rows["statistic"].isin(d.headline)]
        if head.empty:  # the row with the smallest p-value, ties broken by the largest multiple of its floor
            multiples = [
                times_floor(r.value, r.ideal, r.floor, bool(getattr(r, "one_sided", False))) for r in rows.itertuples()
            ]
            order = rows.assign(_m=multiples).sort_values(
                ["p_value", "_m"], ascending=[True, False], na_position="last"
            )
            head = order.head(1)
        cards.append(
            {
                "metric": v.metric,
                "aspect": v.aspect,
                "verdict": v.verdict,
                "p_value": fmt_p(v.p_value, draws),
                "headline": [summary_row(r, draws) for r in head.itertuples()],
                "flagged": [s for s in v.flagged.split(", ") if s],
                "explain": d.explain.get(v.aspect, ""),
                "can_see": own_reach(scores, v.metric, d.reach) or can_see(dataset or "", n, f"{v.metric}/{v.aspect}"),
            }
        )
    # what needs attention first: flagged verdicts, then the passes, each in the metrics' order
    return sorted(cards, key=lambda c: c["verdict"] != "flag")


def metric_rows(scores: pd.DataFrame, metric: str, draws: int | None = None) -> list[dict[str, Any]]:
    """The summary rows of one metric, formatted (scores.csv keeps the per-bin rows)."""
    rows = scores[(scores["metric"] == metric) & scores["summary"].astype(bool)]
    return [summary_row(r, draws) for r in rows.itertuples()]


def flatten(obj: Any, prefix: str = "") -> list[tuple[str, str]]:
    """A nested manifest as (dotted key, value) pairs, for a readable two-column table."""
    if isinstance(obj, dict):
        out = []
        for k, v in obj.items():
            out += flatten(v, f"{prefix}.{k}" if prefix else str(k))
        return out or [(prefix, "{}")]
    if isinstance(obj, list) and obj and all(isinstance(v, dict) for v in obj):
        return [pair for i, v in enumerate(obj) for pair in flatten(v, f"{prefix}[{i}]")]
    return [(prefix, fmt(obj) if not isinstance(obj, list) else ", ".join(fmt(v) for v in obj))]


def markdown_table(df: pd.DataFrame) -> str:
    """A DataFrame as a Markdown table (numbers to 4 significant digits), without optional dependencies."""
    head = "| " + " | ".join(str(c) for c in df.columns) + " |"
    rule = "|" + "---|" * len(df.columns)
    body = ["| " + " | ".join(fmt(v).replace("|", "\\|") for v in r) + " |" for r in df.itertuples(index=False)]
    return "\n".join([head, rule, *body])
