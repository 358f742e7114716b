"""The reports shipped in reports/ were written by the current scoring code and are internally honest."""

from pathlib import Path

import pandas as pd
import pytest

REPORTS = sorted(p for p in (Path(__file__).parent.parent / "reports").glob("*/scores.csv"))


@pytest.mark.parametrize("path", REPORTS, ids=[p.parent.name for p in REPORTS])
def test_every_interval_contains_its_estimate_and_verdicts_are_calibrated(path):
    df = pd.read_csv(path)
    assert {"p_value", "floor", "flagged"} <= set(df.columns), "report written by an older emubench: regenerate it"
    has = df[df.ci_low.notna()]
    bad = has[(has.ci_low > has.value) | (has.value > has.ci_high)]
    assert bad.empty, bad[["metric", "statistic", "bin", "value", "ci_low", "ci_high"]]
    summary = df[df.summary]
    assert summary.p_value.notna().all() and not df[~df.summary].flagged.any()


def test_there_are_shipped_reports():
    assert len(REPORTS) >= 9
