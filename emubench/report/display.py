"""How each metric is shown: its declared headline statistics, plots and verdict explanations, with defaults.

Reports use these declarations only, so a third-party metric is plotted and gets leaderboard columns exactly as
a built-in one does; no metric is named in the report code. The declarations are stored in score.json at
scoring time, so a report can be redrawn where the metric's plugin is not installed.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from ..contracts import Plot
from ..errors import EmubenchError

if TYPE_CHECKING:
    import pandas as pd


@dataclass(frozen=True)
class Display:
    """One metric's presentation, defaults filled in (see ``emubench.contracts.Metric``)."""

    metric: str
    description: str = ""
    headline: tuple[str, ...] = ()
    plots: tuple[Plot, ...] = ()
    explain: dict[str, str] = field(default_factory=dict)
    disqualifies: bool = False
    reach: dict[str, str] = field(default_factory=dict)


def declarations(metric_classes: Iterable[type]) -> dict[str, dict[str, Any]]:
    """The display declarations of metric classes as JSON (for score.json); a malformed one is refused here,
    before any scoring work, with a one-line error naming the metric."""
    out = {}
    for cls in metric_classes:
        name = cls.name
        headline = getattr(cls, "headline", ()) or ()
        plots = getattr(cls, "plots", ()) or ()
        explain = getattr(cls, "explain", {}) or {}
        if isinstance(headline, str) or not all(isinstance(h, str) for h in headline):
            raise EmubenchError(f"metric {name}: headline must be a tuple of statistic names, not {headline!r}")
        if not all(isinstance(p, Plot) for p in plots):
            raise EmubenchError(f"metric {name}: plots must be a tuple of emubench.Plot, not {plots!r}")
        if not isinstance(explain, dict) or not all(isinstance(v, str) for v in explain.values()):
            raise EmubenchError(f"metric {name}: explain must map aspect names to sentences, not {explain!r}")
        reach = getattr(cls, "reach", {}) or {}
        if not isinstance(reach, dict) or not all(isinstance(v, str) and "{percent}" in v for v in reach.values()):
            raise EmubenchError(
                f"metric {name}: reach must map statistic names to phrases with {{percent}}, not {reach!r}"
            )
        out[name] = {
            "description": str(getattr(cls, "description", "") or ""),
            "headline": list(headline),
            "plots": [{**asdict(p), "statistics": list(p.statistics)} for p in plots],
            "explain": dict(explain),
            "disqualifies": bool(getattr(cls, "disqualifies", False)),
            "reach": dict(reach),
        }
    return out


def _installed(metric: str) -> dict[str, Any]:
    """Declarations of an installed metric plugin (for score.json files written before they were stored)."""
    from ..registry import get

    try:
        return declarations([get("metrics", metric)])[metric]
    except EmubenchError:
        return {}


def resolve(info: dict, scores: pd.DataFrame, curves: pd.DataFrame) -> dict[str, Display]:
    """Per metric in ``scores`` (in order): its declarations with defaults for what it did not declare.

    Headline: the declared statistics the scores hold, else the first summary row of each aspect. Plots: the
    declared ones whose statistics have curves, else (none declared) one figure with a linear panel per curve
    statistic the metric wrote.
    """
    stored = info.get("display") or {}
    out = {}
    for metric in dict.fromkeys(scores["metric"]):
        d = stored.get(metric)
        if d is None:
            d = _installed(metric)
        elif "disqualifies" not in d:  # stored before these were declarations: the installed metric's, if any
            d = {**d, **{k: v for k, v in _installed(metric).items() if k in ("disqualifies", "reach")}}
        summary = scores[(scores["metric"] == metric) & scores["summary"].astype(bool)]
        have = set(summary["statistic"])
        headline = tuple(h for h in d.get("headline", ()) if h in have)
        if not headline:
            headline = tuple(summary.groupby("aspect", sort=False)["statistic"].first())
        drawn = set(curves.loc[curves["metric"] == metric, "statistic"]) if len(curves) else set()
        declared = [Plot(**p) for p in d.get("plots", ())]
        plots = tuple(p for p in declared if set(p.statistics) & drawn)
        if not declared and drawn:
            ordered = tuple(dict.fromkeys(curves.loc[curves["metric"] == metric, "statistic"]))
            plots = (Plot(metric, ordered, "x", "mean over maps"),)
        out[metric] = Display(
            metric,
            d.get("description", ""),
            headline,
            plots,
            dict(d.get("explain", {})),
            bool(d.get("disqualifies", False)),
            dict(d.get("reach", {})),
        )
    return out
