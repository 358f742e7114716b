"""Metrics: exact permutation KS, curve comparisons, floors, and the built-in metrics on real-vs-real data."""

import numpy as np
import pytest
from scipy import stats as sps

from emubench.metrics.base import attach_floor, compare_curves
from emubench.metrics.pixel_ks import PermutationKS
from emubench.scoring import score, verdicts


def test_permutation_ks_equals_scipy():
    rng = np.random.default_rng(0)
    maps = rng.standard_normal((20, 8, 8)).astype(np.float32)
    maps[3] = np.round(maps[3], 1)  # ties
    perm = PermutationKS(maps)
    for seed in range(5):
        in_a = np.zeros(20, bool)
        in_a[np.random.default_rng(seed).permutation(20)[:10]] = True
        want = sps.ks_2samp(maps[in_a].ravel(), maps[~in_a].ravel()).statistic
        assert perm.statistic(in_a) == pytest.approx(want, abs=1e-12)


def test_pixel_ks_statistic_and_pvalue_equal_scipy_asymp():
    from emubench.metrics.pixel_ks import ks_pvalue

    rng = np.random.default_rng(2)
    a = rng.standard_normal((6, 16, 16)).astype(np.float32)
    b = (rng.standard_normal((9, 16, 16)) * 1.1 + 0.05).astype(np.float32)
    b[:2] = np.round(b[:2], 1)  # ties across and within the sets
    a[0, :4, :4] = b[0, :4, :4]
    want = sps.ks_2samp(a.ravel(), b.ravel(), method="asymp")
    d = PermutationKS(np.concatenate([a, b])).statistic(np.arange(15) < 6)
    assert d == pytest.approx(want.statistic, abs=1e-12)
    assert ks_pvalue(d, a.size, b.size) == pytest.approx(want.pvalue, rel=1e-9)


def test_compare_curves_identical_sets_and_shifted_mean():
    rng = np.random.default_rng(1)
    r = rng.standard_normal((400, 6)) + 10
    same = {x["statistic"]: x["value"] for x in compare_curves(r, r, np.arange(6)) if x["summary"]}
    assert same["chi2-dof"] == pytest.approx(0) and same["max-abs-dev-se"] == 0 and same["corr-rms-diff"] == 0
    shifted = {x["statistic"]: x["value"] for x in compare_curves(r + 1, r, np.arange(6)) if x["summary"]}
    assert shifted["max-abs-dev-se"] == pytest.approx(20, rel=0.1)  # 1 / (1/√400)


def test_floor_flags_only_outliers():
    rows = [{"statistic": "s", "aspect": "mean", "bin": np.nan, "value": 5.0, "ideal": 0.0, "summary": True}]
    draws = [[{**rows[0], "value": v}] for v in np.linspace(0, 4, 101)]
    out = attach_floor(rows, draws)[0]
    assert out["floor"] == pytest.approx(3.96) and out["flagged"]
    rows[0]["value"] = 3.0
    assert not attach_floor(rows, draws)[0]["flagged"]


def test_real_vs_real_passes_every_distributional_metric(small_splits):
    """Test-split maps scored as if generated pass every metric; training maps are caught by memorisation."""
    test = small_splits["test"].head(len(small_splits["test"]))
    other = small_splits["train"].head(len(test))  # real maps, but training maps: memorisation must flag them
    df, ctx = score(test, small_splits, seed=1, floor_draws=60)
    v = verdicts(df).set_index(["metric", "aspect"])
    assert set(df.columns) >= {"metric", "statistic", "bin", "value", "floor", "flagged", "model", "dataset", "n", "seed"}
    # held-out maps vs validation maps is itself a real-vs-real draw: it passes the 99% floors
    dist = v.drop(index=[("memorisation", "memorisation")])
    assert (dist.verdict == "pass").all(), dist
    assert v.loc[("memorisation", "memorisation"), "verdict"] == "pass"
    df2, _ = score(other, small_splits, metrics=["memorisation"], seed=1)
    assert verdicts(df2).verdict.tolist() == ["flag"]
    ks = df[(df.metric == "pixel-ks") & (df.statistic == "D")].iloc[0]
    want = sps.ks_2samp(test.ravel(), small_splits["val"].head(len(test)).ravel()).statistic
    assert ks.value == pytest.approx(want)
    assert {c["metric"] for c in ctx.curves} >= {"pixel-ks", "power-spectrum", "minkowski", "peaks"}


def test_score_refuses_mismatched_sizes(small_splits):
    from emubench.errors import EmubenchError

    with pytest.raises(EmubenchError, match="maps are 32x32 but the dataset's are 64x64"):
        score(np.zeros((10, 32, 32), np.float32), small_splits)
    with pytest.raises(EmubenchError, match="NaN"):
        score(np.full((10, 64, 64), np.nan, np.float32), small_splits)
    with pytest.raises(EmubenchError, match="generated set has only 10"):
        score(np.zeros((10, 64, 64), np.float32), small_splits, n=100)


def test_same_seeds_same_table(small_splits):
    from emubench.models import resolve_model

    tables = []
    for _ in range(2):
        model, _ = resolve_model("lognormal", small_splits["train"], seed=3)
        df, _ = score(model.sample(len(small_splits["val"]), seed=3), small_splits, seed=3, floor_draws=30)
        tables.append(df)
    import pandas as pd

    pd.testing.assert_frame_equal(tables[0], tables[1])


def test_bootstrap_intervals_cover_a_known_amplitude_error(small_splits):
    """Maps scaled by 1.05 have C_ℓ 1.1025× the truth: the per-bin ratio intervals must contain that and
    exclude 1; the memorisation fractions get exact binomial intervals; pixel-ks has none."""
    test = small_splits["test"].head(len(small_splits["test"]))
    df, _ = score(1.05 * test, small_splits, seed=1, floor_draws=20, bootstrap_draws=200)
    ratio = df[(df.metric == "power-spectrum") & (df.statistic == "ratio")]
    assert ratio[["ci_low", "ci_high"]].notna().all().all()
    assert (ratio.ci_low <= ratio.ci_high).all()
    contains = ((ratio.ci_low <= 1.1025) & (ratio.ci_high >= 1.1025)).mean()
    excludes_one = (ratio.ci_low > 1.0).mean()
    assert contains >= 0.8 and excludes_one >= 0.8, (contains, excludes_one)
    mem = df[(df.metric == "memorisation") & (df.statistic == "fraction-closer-to-training")].iloc[0]
    assert mem.ci_low <= mem.value <= mem.ci_high and mem.ci_high > 0
    assert df[df.metric == "pixel-ks"][["ci_low", "ci_high"]].isna().all().all()
    off, _ = score(1.05 * test, small_splits, metrics=["power-spectrum"], seed=1, floor_draws=20, bootstrap_draws=0)
    assert off[["ci_low", "ci_high"]].isna().all().all()
