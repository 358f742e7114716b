"""Metrics: curve comparisons, calibrated floors, the score cache, and the built-in metrics on real-vs-real data."""

import numpy as np
import pytest
from scipy import stats as sps

from emubench.errors import EmubenchError
from emubench.metrics.base import calibrate, compare_curves, curve_summaries
from emubench.scoring import score, verdicts


def test_compare_curves_identical_sets_and_shifted_mean():
    rng = np.random.default_rng(1)
    r = rng.standard_normal((400, 6)) + 10
    same = {x["statistic"]: x["value"] for x in compare_curves(r, r, np.arange(6)) if x["summary"]}
    assert same["chi2-dof"] == pytest.approx(0) and same["max-abs-dev-se"] == 0 and same["corr-rms-diff"] == 0
    shifted = {x["statistic"]: x["value"] for x in compare_curves(r + 1, r, np.arange(6)) if x["summary"]}
    assert shifted["max-abs-dev-se"] == pytest.approx(20, rel=0.1)  # 1 / (1/√400)
    ideal = {x["statistic"]: x["ideal"] for x in compare_curves(r, r, np.arange(6)) if x["summary"]}
    assert ideal["chi2-dof"] == 1.0  # what two sets of one distribution score on average


def test_batched_summaries_equal_one_at_a_time():
    """The null draws' summaries come from set moments (matrix products of counts); they equal direct computation
    of each draw's maps (rows of the pool, drawn with replacement) against the fixed reference."""
    from emubench.metrics.base import FeatureMetric
    from emubench.metrics.null import NullDraws

    rng = np.random.default_rng(3)
    r = rng.standard_normal((30, 5)) + 3
    pool = rng.standard_normal((120, 5)) * 1.1 + 3
    m = FeatureMetric()
    m.amplitude = True
    null = NullDraws.make(np.zeros((120, 2, 2)), 30, 7, 0, "fresh")
    got = m.null_draw_summaries(pool, r, null)
    assert any(len(np.unique(idx)) < len(idx) for idx in null.index)  # with replacement: repeats are counted
    sel = np.concatenate(list(null.selections(chunk=3)))  # chunks of 3, 3 and 1 draws
    assert sel.shape == (7, 120) and (sel.sum(1) == 30).all()
    assert all((sel[d] == np.bincount(idx, minlength=120)).all() for d, idx in enumerate(null.index))
    for d, idx in enumerate(null.index):
        want = curve_summaries(pool[idx], r, amplitude=True)
        for k, v in want.items():
            assert got[k][d] == pytest.approx(v, rel=1e-5, abs=1e-9), k  # float32 products


def test_calibrate_family_wise_max_t():
    """One row far beyond the null is flagged with the smallest p-value; the floor separates flag from pass; the
    adjusted p-value of a null draw is uniform, so a verdict's rate is alpha."""
    rng = np.random.default_rng(0)
    null = np.abs(rng.standard_normal((999, 3)))
    rows = [
        {"statistic": f"s{j}", "aspect": "mean", "bin": np.nan, "value": v, "ideal": 0.0, "summary": True}
        for j, v in enumerate([10.0, 0.1, 0.2])
    ]
    out = calibrate(rows, null, alpha=0.01)
    # beyond every draw: the smallest p-value there is, however many rows the verdict has
    assert out[0]["flagged"] and out[0]["p_value"] == pytest.approx(1 / 1000)
    assert not out[1]["flagged"] and not out[2]["flagged"]
    for r_ in out:
        assert (abs(r_["value"]) > r_["floor"]) == r_["flagged"]
    # each null draw scored as if observed against the others: flagged at close to alpha
    flags = []
    for d in range(0, 999, 3):
        others = np.delete(null, d, axis=0)
        rows = [
            {"statistic": f"s{j}", "aspect": "mean", "bin": np.nan, "value": null[d, j], "ideal": 0.0, "summary": True}
            for j in range(3)
        ]
        flags.append(any(r_["flagged"] for r_ in calibrate(rows, others, alpha=0.05)))
    assert 0.02 <= np.mean(flags) <= 0.09, np.mean(flags)
    # one-sided: only values above the ideal count
    low = [{"statistic": "f", "aspect": "m", "bin": np.nan, "value": -5.0, "ideal": 0.0, "summary": True}]
    assert not calibrate(low, null[:, :1], alpha=0.05, one_sided=True)[0]["flagged"]


@pytest.mark.slow
def test_real_vs_real_passes_every_distributional_metric(small_splits):
    """Test-split maps scored as if generated pass every metric; training maps are caught by memorisation."""
    test = small_splits["test"].head(len(small_splits["test"]))
    other = small_splits["train"].head(len(test))  # real maps, but training maps: memorisation must flag them
    df, ctx = score(test, small_splits, seed=1)
    v = verdicts(df).set_index(["metric", "aspect"])
    assert set(df.columns) >= {
        "metric",
        "statistic",
        "bin",
        "value",
        "floor",
        "flagged",
        "model",
        "dataset",
        "n",
        "seed",
    }
    # held-out maps vs validation maps is itself a real-vs-real draw: it passes the 99% floors
    dist = v.drop(index=[("memorisation", "memorisation")])
    assert (dist.verdict == "pass").all(), dist
    assert v.loc[("memorisation", "memorisation"), "verdict"] == "pass"
    df2, _ = score(other, small_splits, metrics=["memorisation"], seed=1)
    assert verdicts(df2).verdict.tolist() == ["flag"]
    want = sps.ks_2samp(test.ravel(), small_splits["val"].head(len(test)).ravel()).statistic
    grid_d = df[(df.metric == "pixel-ks") & (df.statistic == "D")].iloc[0].value
    assert grid_d <= want + 1e-12 and want - grid_d < 2 / 1024  # D on 1,024 reference quantiles: within a cell
    assert {c["metric"] for c in ctx.curves} >= {"pixel-ks", "power-spectrum", "minkowski", "peaks"}


def test_covariance_panels_put_real_maps_inside_the_real_band_and_a_scatter_flaw_outside(small_splits):
    """What the report draws for a covariance verdict: σ_generated/σ_real per bin against the central 95% of
    real-vs-real draws, and the difference of the bin-to-bin correlation matrices. Real held-out maps lie inside
    the band; maps each multiplied by its own random factor 1 ± 30% (a scatter flaw that moves every C_ℓ bin of a
    map together) lie above it in every bin, with bins more correlated than the real ones."""
    test = small_splits["test"].head(len(small_splits["test"]))
    scale = 1 + 0.3 * np.random.default_rng(0).standard_normal(len(test))[:, None, None]
    for maps, real in ((test, True), ((test * scale).astype(np.float32), False)):
        _, ctx = score(maps, small_splits, metrics=["power-spectrum"], seed=1, floor_draws=300)
        p = ctx.extras["power-spectrum"]["covariance"]["C_ell"]
        ratio, lo, hi = (np.array(p[k]) for k in ("std_ratio", "band_low", "band_high"))
        diff = np.array(p["corr_difference"])
        assert len(ratio) == len(lo) == len(p["x"]) and diff.shape == (len(ratio),) * 2
        assert np.allclose(diff, diff.T) and np.allclose(np.diag(diff), 0) and (lo < hi).all()
        off = diff[~np.eye(len(diff), dtype=bool)]
        if real:
            assert np.mean((lo <= ratio) & (ratio <= hi)) >= 0.8 and abs(off.mean()) < 0.1
        else:
            assert (ratio > hi).all() and off.mean() > 0.2 and p["corr_rms"] > p["corr_floor"]


@pytest.mark.slow
def test_scattering_flags_randomised_phases_that_the_power_spectrum_cannot_see(small_splits):
    """Held-out maps with their Fourier phases randomised keep every map's |FFT|, so its power spectrum, exactly:
    the power-spectrum verdicts pass them as they pass the maps themselves, while the scattering coefficients'
    coupling of scales (s21) flags them. The same maps with their phases kept pass both (the opt-in metric is
    scored when named)."""
    from emubench.scoring import default_metrics

    assert "scattering" not in default_metrics(small_splits)  # opt-in until the shipped tables are measured with it
    test = small_splits["test"].head(32).astype(np.float64)  # n = 32: the null's pool is 256 maps (~90 ms each)
    f = np.fft.rfft2(test)
    phases = np.exp(2j * np.pi * np.random.default_rng(0).random(f.shape))
    flat = np.fft.irfft2(np.abs(f) * phases, s=test.shape[-2:]).astype(np.float32)
    got, cache = {}, {}  # the null's features are computed once for both scores
    for name, maps in (("real", test.astype(np.float32)), ("random phases", flat)):
        metrics = ["power-spectrum", "scattering"]
        df, _ = score(maps, small_splits, metrics=metrics, seed=1, floor_draws=300, n=32, cache=cache)
        got[name] = verdicts(df).set_index(["metric", "aspect"])["verdict"]
    assert (got["real"] == "pass").all(), got["real"]
    assert (got["random phases"].loc["power-spectrum"] == "pass").all(), got["random phases"]
    assert got["random phases"].loc[("scattering", "mean")] == "flag", got["random phases"]


def test_bispectrum_flags_randomised_phases_that_the_power_spectrum_cannot_see(small_splits):
    """The bispectrum of a field with random Fourier phases is zero in expectation (no triangle keeps its phase
    sum); the lognormal maps' is positive. Held-out maps with their phases randomised (|FFT|, so C_ℓ, kept map by
    map) pass the power-spectrum verdicts and are flagged by bispectrum/mean; the maps themselves pass both."""
    from emubench.scoring import default_metrics

    assert "bispectrum" not in default_metrics(small_splits)  # opt-in until the shipped tables are measured with it
    test = small_splits["test"].head(64).astype(np.float64)
    f = np.fft.rfft2(test)
    phases = np.exp(2j * np.pi * np.random.default_rng(0).random(f.shape))
    flat = np.fft.irfft2(np.abs(f) * phases, s=test.shape[-2:]).astype(np.float32)
    got, cache = {}, {}
    for name, maps in (("real", test.astype(np.float32)), ("random phases", flat)):
        metrics = ["power-spectrum", "bispectrum"]
        df, _ = score(maps, small_splits, metrics=metrics, seed=1, floor_draws=300, n=64, cache=cache)
        got[name] = verdicts(df).set_index(["metric", "aspect"])["verdict"]
        if name == "random phases":  # the reduced equilateral bispectrum: lognormal's positive, this one's ~0
            q = df[(df.metric == "bispectrum") & (df.statistic == "equilateral-ratio")].value
            assert q.abs().median() < 0.3, q
    assert (got["real"] == "pass").all(), got["real"]
    assert (got["random phases"].loc["power-spectrum"] == "pass").all(), got["random phases"]
    assert got["random phases"].loc[("bispectrum", "mean")] == "flag", got["random phases"]


def test_minima_are_the_maps_local_minima_and_see_a_gaussian_field(small_splits):
    """The opt-in minima metric counts the pixels below their 8 periodic neighbours in bins of ν = κ/σ_ref,
    equal to a histogram of minima found by brute force; lognormal κ is bounded below, so a Gaussian field with
    the same spectrum (phases randomised) has deeper minima and is flagged, the real maps are not."""
    import torch

    from emubench.metrics.base import Context
    from emubench.metrics.curves import MINIMA_NU, MinimaMetric
    from emubench.scoring import default_metrics

    assert "minima" not in default_metrics(small_splits)
    test = small_splits["test"].head(64).astype(np.float64)
    ctx = Context.from_reference(test, 0.866)
    nu, f = MinimaMetric().features(torch.as_tensor(test[:4]), ctx)
    assert nu == pytest.approx((MINIMA_NU[1:] + MINIMA_NU[:-1]) / 2)
    for a, counts in zip(test[:4].astype(np.float32).astype(np.float64), f["minima"]):
        lower = [a < np.roll(a, (dy, dx), (0, 1)) for dy in (-1, 0, 1) for dx in (-1, 0, 1) if dy or dx]
        want, _ = np.histogram(a[np.all(lower, 0)] / ctx.sigma_ref, bins=MINIMA_NU)
        assert np.round(counts * 0.5 * ctx.sigma_ref).tolist() == want.tolist()  # per unit κ, bins of 0.5 σ_ref
    f_hat = np.fft.rfft2(test)
    phases = np.exp(2j * np.pi * np.random.default_rng(0).random(f_hat.shape))
    flat = np.fft.irfft2(np.abs(f_hat) * phases, s=test.shape[-2:]).astype(np.float32)
    got, cache = {}, {}
    for name, maps in (("real", test.astype(np.float32)), ("random phases", flat)):
        df, _ = score(maps, small_splits, metrics=["minima"], seed=1, floor_draws=300, n=64, cache=cache)
        got[name] = verdicts(df).set_index("aspect")["verdict"]
    assert (got["real"] == "pass").all(), got["real"]
    assert got["random phases"]["mean"] == "flag", got["random phases"]


def test_score_refuses_mismatched_sizes(small_splits):
    from emubench.errors import EmubenchError

    with pytest.raises(EmubenchError, match="maps are 32x32 but the dataset's are 64x64"):
        score(np.zeros((10, 32, 32), np.float32), small_splits)
    with pytest.raises(EmubenchError, match="NaN"):
        score(np.full((10, 64, 64), np.nan, np.float32), small_splits)
    with pytest.raises(EmubenchError, match="generated set has only 10"):
        score(np.zeros((10, 64, 64), np.float32), small_splits, n=100)


def test_a_score_cache_is_refused_for_other_settings(small_splits):
    """A cache holds the null of one reference and one set of settings; reusing it with another n or seed is a
    one-line error, not a silently wrong null."""
    test = small_splits["test"].head(len(small_splits["test"]))
    cache: dict = {}
    score(test, small_splits, metrics=["power-spectrum"], floor_draws=200, bootstrap_draws=0, cache=cache)
    for change in ({"n": 20}, {"seed": 3}, {"floor_draws": 300}):
        with pytest.raises(EmubenchError, match="this score cache holds the null of another reference"):
            score(test, small_splits, **{"metrics": ["power-spectrum"], "floor_draws": 200, **change}, cache=cache)


@pytest.mark.slow
def test_same_seeds_same_table(small_splits):
    from emubench.models import resolve_model

    tables = []
    for _ in range(2):
        model, _ = resolve_model("lognormal", small_splits["train"], seed=3)
        df, _ = score(model.sample(len(small_splits["val"]), seed=3), small_splits, seed=3, floor_draws=300)
        tables.append(df)
    import pandas as pd

    pd.testing.assert_frame_equal(tables[0], tables[1])


@pytest.mark.slow
def test_bootstrap_intervals_cover_a_known_amplitude_error(small_splits):
    """Maps scaled by 1.05 have C_ℓ 1.1025× the truth: the per-bin ratio intervals must contain that and
    exclude 1; the memorisation fractions get exact binomial intervals; pixel-ks has none."""
    test = small_splits["test"].head(len(small_splits["test"]))
    df, _ = score(1.05 * test, small_splits, seed=1, floor_draws=300, bootstrap_draws=200)
    ratio = df[(df.metric == "power-spectrum") & (df.statistic == "ratio")]
    assert ratio[["ci_low", "ci_high"]].notna().all().all()
    assert (ratio.ci_low <= ratio.ci_high).all()
    contains = ((ratio.ci_low <= 1.1025) & (ratio.ci_high >= 1.1025)).mean()
    excludes_one = (ratio.ci_low > 1.0).mean()
    assert contains >= 0.8 and excludes_one >= 0.8, (contains, excludes_one)
    mem = df[(df.metric == "memorisation") & (df.statistic == "fraction-near-copies")].iloc[0]
    assert mem.ci_low <= mem.value <= mem.ci_high and mem.ci_high > 0
    assert df[df.metric == "pixel-ks"][["ci_low", "ci_high"]].isna().all().all()
    # distances (χ², maxima, RMS) get no interval: their percentile bootstrap is biased (coverage of the per-bin
    # ones: test_bootstrap_intervals_cover_the_truth_at_their_stated_rate)
    # fractions (memorisation, maps outside the reference's range) get exact binomial intervals
    fractions = df.statistic.str.endswith("outside-reference-range")
    assert fractions.any() and df[fractions][["ci_low", "ci_high"]].notna().all().all()
    summaries = df[df.summary & ~df.statistic.str.endswith("amplitude") & (df.metric != "memorisation") & ~fractions]
    assert summaries[["ci_low", "ci_high"]].isna().all().all()
    amp = df[(df.metric == "power-spectrum") & (df.statistic == "amplitude")].iloc[0]
    assert amp.ci_low <= 1.1025 <= amp.ci_high and amp.flagged
    off, _ = score(1.05 * test, small_splits, metrics=["power-spectrum"], seed=1, floor_draws=200, bootstrap_draws=0)
    assert off[~off.statistic.str.endswith("amplitude")][["ci_low", "ci_high"]].isna().all().all()


@pytest.mark.slow
def test_bootstrap_intervals_cover_the_truth_at_their_stated_rate():
    """Coverage measured, not assumed: 200 repeated draws of 128 maps scaled by 1.05 against 128 other maps of the
    same generator, where the truth is known (the ratio of mean C_ℓ and of their standard deviations is 1.05² in
    every bin). The 95% intervals (per-bin percentile bootstrap of 200 resamples, as scores draw them; the
    amplitude's ±1.96 σ_A) must cover it in 95% of the draws: within 3.3 standard errors, taking each draw as
    one unit (its bins are correlated). An interval left out (NaN) counts as a miss.

    The maps are drawn at random from one large set, as splits and null draws are: consecutive maps of the
    generator are crops of one parent field, whose C_ℓ are anti-correlated at low ℓ (a block of 128 has ~25%
    less spread in its mean than 128 independent maps, and intervals that assume independence over-cover).
    Measured on this draw: 93.6% (ratio), 93.2% (std-ratio), 93.5% (amplitude): the percentile bootstrap of
    128 skewed C_ℓ is a little short of 95%, within the bound."""
    from emubench.data.lognormal import generate
    from emubench.stats import power_spectrum
    from emubench.stats.power import default_ell_edges

    draws, n, truth = 200, 128, 1.05**2
    ell, cl = power_spectrum(
        generate(2 * draws * n, npix=64, side_deg=0.866, seed=77), 0.866, default_ell_edges(64, 0.866)
    )
    cl = cl[np.random.default_rng(1).permutation(len(cl))].reshape(draws, 2, n, -1)
    rng = np.random.default_rng(0)
    covered = {"ratio": [], "std-ratio": [], "amplitude": []}
    for a, r in cl:
        boot = [(rng.integers(0, n, n), rng.integers(0, n, n)) for _ in range(200)]
        rows = compare_curves(truth * a, r, ell, amplitude=True, bootstrap=boot)
        for name in covered:
            got = [(x["ci_low"], x["ci_high"]) for x in rows if x["statistic"] == name]
            covered[name].append(np.mean([lo <= truth <= hi for lo, hi in got]))  # NaN bounds compare False
    bound = 3.3 * np.sqrt(0.95 * 0.05 / draws)
    rates = {name: float(np.mean(c)) for name, c in covered.items()}
    assert all(abs(rate - 0.95) <= bound for rate in rates.values()), (rates, bound)


@pytest.mark.slow
def test_values_the_reference_never_reaches_are_not_dropped(small_splits):
    """Threshold bins where every reference map has the same value (V0 = 1 below the lowest reference pixel) are
    not silently dropped: maps reaching below the reference's range are flagged by their own summary row, and
    real held-out maps are not."""
    test = small_splits["test"].head(len(small_splits["test"]))
    kw = dict(metrics=["minkowski"], seed=0, floor_draws=200, bootstrap_draws=0)
    real, _ = score(test, small_splits, **kw)
    rows = real[real.statistic.str.endswith("outside-reference-range")]
    assert len(rows) and not rows.flagged.any()
    bad = test.copy()
    bad[:15, 0, 0] = test.min() - 3 * test.std()  # one deep pixel in 15 maps: below anything real
    planted, _ = score(bad, small_splits, **kw)
    v0 = planted[planted.statistic == "V0-outside-reference-range"].iloc[0]
    assert v0.flagged and v0.value == pytest.approx(15 / len(test)) and v0.ci_low <= v0.value <= v0.ci_high


def test_files_draw_their_null_from_the_training_split(small_splits):
    """Maps without a generator (files): the null is drawn from the training split (real maps, never the
    generated ones), and asking for a fresh null is a one-line error naming the way out."""
    from emubench.data import MapSet, split

    full = small_splits["train"]
    maps = np.concatenate([full.head(len(full)), small_splits["val"].head(len(small_splits["val"]))])
    files = split(MapSet(maps, full.side_deg, "files"), 0)  # no ``fresh``: as files of real maps are
    test = files["test"].head(len(files["test"]))
    df, ctx = score(test, files, metrics=["power-spectrum"], floor_draws=200, bootstrap_draws=0)
    cal = ctx.extras["calibration"]
    assert cal["null"] == "train" and "training split" in cal["null_description"]
    assert cal["null_pool"] == min(len(files["train"]), 8 * len(files["val"]))
    assert not verdicts(df).verdict.eq("flag").any()
    with pytest.raises(EmubenchError, match="has no generator: a fresh null is not possible, use --null train"):
        score(test, files, metrics=["power-spectrum"], floor_draws=200, null="fresh")
