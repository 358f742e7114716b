"""What a pass can see: the smallest planted flaws each verdict flagged, measured by ``emubench power``.

A pass is only as strong as the test behind it: a card that says PASS must also say which flaws it would have
caught. ``emubench power DATASET`` plants flaws of growing size (``calibration.FLAWS``, ``COPY_FLAWS``) in
perfect emulators and records the smallest size each verdict flags (``smallest_flagged.csv``); the tables
measured for this release ship in ``sensitivity/<dataset>.csv`` (a test keeps them equal to
``reports/calibration/``). A score on that dataset at the same n quotes them; at another n a flaw that shifts
a mean needs about √(n_measured / n) times the size to be seen (the standard error of a mean of n maps), a
scaling checked once, at n = 307 on one basis (docs/validation.md); on another dataset nothing is claimed.

The memorisation check measures its own reach on the spot (its ``detectable-copy-fraction`` row).
"""

from __future__ import annotations

from functools import cache
from importlib import resources

import numpy as np
import pandas as pd

MEASURED_N = {"lognormal-lcdm-64": 1229}  # the n of each shipped table (its validation split at the default size)
BASES = {"lognormal-lcdm-64": 1}  # how many perfect-emulator bases each level was planted in


@cache
def measured(dataset: str) -> pd.DataFrame | None:
    """The shipped smallest-flagged table of ``dataset`` (verdict × flaw → smallest flagged size, inf if
    none), or None when none was measured."""
    path = resources.files("emubench.report") / "sensitivity" / f"{dataset}.csv"
    if not path.is_file():
        return None
    with path.open() as f:
        return pd.read_csv(f, index_col="verdict")


def can_see(dataset: str, n: int | None, verdict: str) -> list[str]:
    """The flaws ``verdict`` ("metric/aspect") was measured to flag, as short phrases ("κ amplitude error (fraction)
    ≥ 0.01"), scaled to ``n`` maps for the distributional flaws; [] where nothing was measured."""
    from ..calibration import COPY_FLAWS, FLAWS

    table = measured(dataset)
    if table is None or verdict not in table.index or not n:
        return []
    scale = _scale(dataset, n)
    out = []
    for flaw, level in table.loc[verdict].items():
        if not np.isfinite(level):
            continue
        if flaw in FLAWS:  # sizes of a flaw; copies are fractions of maps, which do not scale this way
            out.append(_phrase(flaw, level * scale))
        elif flaw in COPY_FLAWS:
            out.append(f"{COPY_FLAWS[flaw][1]} ≥ {_size(level)}")
    return out


def own_reach(scores: pd.DataFrame, metric: str, reach: dict[str, str]) -> list[str]:
    """The reach a metric measures itself at the score's n (its ``reach`` declaration: a statistic of its results,
    a fraction, and the phrase it goes in; the memorisation check's ``detectable-copy-fraction``: how many copies
    of training maps its exact binomial test needs to flag), as phrases; [] without such rows."""
    out = []
    for statistic, phrase in reach.items():
        row = scores[(scores["metric"] == metric) & (scores["statistic"] == statistic)]
        if len(row) and np.isfinite(float(row["value"].iloc[0])):
            out.append(phrase.format(percent=f"{100 * float(row['value'].iloc[0]):.2g}"))
    return out


def smallest_per_flaw(dataset: str, n: int | None) -> list[tuple[str, str, str]]:
    """For the page header: per planted flaw, the smallest size any verdict flagged, scaled to n as in
    ``can_see``, and which verdicts flag it at that size: (flaw label, size, verdicts)."""
    from ..calibration import FLAWS

    table = measured(dataset)
    if table is None or not n:
        return []
    scale = _scale(dataset, n)
    out = []
    for flaw in table.columns:
        if flaw not in FLAWS:
            continue
        col = table[flaw].astype(float)
        if not np.isfinite(col).any():
            continue
        best = col.min()
        if best * scale <= max(FLAWS[flaw][2]):
            out.append((FLAWS[flaw][1], _size(best * scale), ", ".join(col.index[col == best])))
    return out


def reach_note(dataset: str, n: int | None) -> str:
    """Where a card's list comes from, in one sentence ('' where nothing was measured)."""
    if measured(dataset) is None or not n:
        return ""
    m, bases = MEASURED_N[dataset], BASES[dataset]
    basis = "basis" if bases == 1 else "bases"
    if n == m:
        return f"measured at this n ({m:,} maps) by `emubench power {dataset}` on {bases} {basis}"
    return (
        f"measured at n = {m:,} by `emubench power {dataset}` on {bases} {basis}, scaled to n = {n:,} by "
        f"√({m:,}/{n:,}) = {_scale(dataset, n):.2g} (the standard error of a mean; checked at n = 307 on one "
        "basis: amplitude, variance and smoothing sizes within a step of the levels tried, white noise up to 3× "
        "larger)"
    )


def _scale(dataset: str, n: int) -> float:
    """How much larger a flaw must be at n maps than at the measured n: √(n_measured / n) (assumed, see above)."""
    return float(np.sqrt(MEASURED_N[dataset] / n))


def _size(x: float) -> str:
    return f"{x:.2g}"


def _phrase(flaw: str, size: float) -> str:
    """'label ≥ size', or that the scaled size lies beyond the largest planted (a randomised fraction of the
    phases cannot exceed 1: the scaling says nothing there)."""
    from ..calibration import FLAWS

    _, label, levels = FLAWS[flaw]
    top = max(levels)
    return f"{label} ≥ {_size(size)}" if size <= top else f"{label}: more than the largest tried ({top:g}) at this n"
