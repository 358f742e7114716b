"""Calibration: every baseline is flagged by the metrics that must catch it, and passes the others.

Expected verdicts per (metric, aspect), judged against real-vs-real floors on the default 64² dataset:

| baseline      | flaw                              | must be flagged by                          | must pass                           |
|---------------|-----------------------------------|---------------------------------------------|-------------------------------------|
| grf           | Gaussian: no non-Gaussian info    | pixel-ks, minkowski (mean), peaks (mean)    | power-spectrum (mean), memorisation |
| lognormal     | right spectrum and pdf only       | minkowski V1/V2 (mean), peaks (mean)        | pixel-ks, power-spectrum (mean), memorisation |
| memoriser     | copies training maps              | memorisation                                | every distributional metric         |
| memoriser-d4  | copies under rotations/flips      | memorisation (symmetry-aware)               | every distributional metric         |
| collapsed     | 4 distinct maps (mode collapse)   | power-spectrum (mean and covariance), minkowski, peaks | memorisation               |
"""

import pytest

from emubench.models import resolve_model
from emubench.scoring import score, verdicts

EXPECT = {
    "grf": ({("pixel-ks", "distribution"), ("minkowski", "mean"), ("peaks", "mean")},
            {("power-spectrum", "mean"), ("memorisation", "memorisation")}),
    "lognormal": ({("minkowski", "mean"), ("peaks", "mean")},
                  {("pixel-ks", "distribution"), ("power-spectrum", "mean"), ("memorisation", "memorisation")}),
    "memoriser": ({("memorisation", "memorisation")},
                  {("pixel-ks", "distribution"), ("power-spectrum", "mean"), ("power-spectrum", "covariance"),
                   ("minkowski", "mean"), ("minkowski", "covariance"), ("peaks", "mean"), ("peaks", "covariance")}),
    "memoriser-d4": ({("memorisation", "memorisation")},
                     {("pixel-ks", "distribution"), ("power-spectrum", "mean"), ("power-spectrum", "covariance"),
                      ("minkowski", "mean"), ("minkowski", "covariance"), ("peaks", "mean"), ("peaks", "covariance")}),
    "collapsed": ({("power-spectrum", "mean"), ("power-spectrum", "covariance"), ("minkowski", "mean"), ("peaks", "mean")},
                  {("memorisation", "memorisation")}),
}


@pytest.fixture(scope="module")
def splits():
    from emubench.data import open_dataset, split

    return split(open_dataset("lognormal-lcdm-64", n_maps=2048), 0)


@pytest.mark.parametrize("baseline", sorted(EXPECT))
def test_baseline_verdicts(baseline, splits):
    model, _ = resolve_model(baseline, splits["train"], seed=0)
    n = len(splits["val"])
    df, _ = score(model.sample(n, seed=0), splits, seed=0, floor_draws=100, model=baseline)
    v = verdicts(df)
    got = {(r.metric, r.aspect): r.verdict for r in v.itertuples()}
    must_flag, must_pass = EXPECT[baseline]
    for key in must_flag:
        assert got[key] == "flag", f"{baseline} not caught by {key}: {got}"
    for key in must_pass:
        assert got[key] == "pass", f"{baseline} wrongly flagged by {key}: {got}"


def test_memorisation_without_symmetries_misses_rotated_copies(splits, monkeypatch):
    """The symmetry option matters: a plain nearest-neighbour search misses rotated copies."""
    from emubench.metrics.memorisation import Memorisation

    monkeypatch.setattr(Memorisation, "symmetries", False)
    model, _ = resolve_model("memoriser-d4", splits["train"], seed=0)
    df, _ = score(model.sample(len(splits["val"]), seed=0), splits, metrics=["memorisation"], seed=0)
    frac = df[df.statistic == "fraction-closer-to-training"].iloc[0]
    assert frac.value < 0.5  # most rotated copies are missed (7 in 8 are not the identity)
