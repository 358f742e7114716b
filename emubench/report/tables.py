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


def summary_row(r: Any) -> dict[str, Any]:
    """One summary row of scores.csv, formatted: value, ideal, floor, ×floor, interval, p-value, flag."""
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
        "p_value": fmt(r.p_value) if np.isfinite(r.p_value) else "",
        "flagged": bool(r.flagged),
        "one_sided": bool(getattr(r, "one_sided", False)),
    }


def verdict_cards(scores: pd.DataFrame, display: dict[str, Display]) -> list[dict[str, Any]]:
    """One card per (metric, aspect) verdict: pass/flag, its family-wise p-value, its headline rows (the
    metric's declared headline statistics of this aspect, else the row nearest to being flagged), the flagged
    statistics and what a flag means."""
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
                "p_value": fmt(v.p_value) if np.isfinite(v.p_value) else "",
                "headline": [summary_row(r) for r in head.itertuples()],
                "flagged": [s for s in v.flagged.split(", ") if s],
                "explain": d.explain.get(v.aspect, ""),
            }
        )
    return cards


def metric_rows(scores: pd.DataFrame, metric: str) -> list[dict[str, Any]]:
    """The summary rows of one metric, formatted (scores.csv keeps the per-bin rows)."""
    rows = scores[(scores["metric"] == metric) & scores["summary"].astype(bool)]
    return [summary_row(r) for r in rows.itertuples()]


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
