"""Calibration: verdicts keep their stated false-positive rate on perfect emulators, and every baseline is
flagged by the metrics that must catch it and passes the others.

Expected verdicts per (metric, aspect) on the default 64² dataset:

- grf (Gaussian: no non-Gaussian information): flagged by pixel-ks, minkowski (mean), peaks (mean), starlet
  (mean); passes power-spectrum (mean), memorisation.
- lognormal (periodic at the map size: no super-sample variance): flagged by minkowski (mean), peaks (mean),
  starlet (mean); passes power-spectrum (mean), memorisation.
- lognormal-crops (the same fit, cut from 4× larger parents; its Minkowski means are flagged at n = 1,229):
  passes pixel-ks, power-spectrum, peaks (mean), memorisation.
- memoriser (copies training maps): flagged by memorisation; passes every distributional metric.
- memoriser-d4 (copies under rotations/flips): flagged by the symmetry-aware memorisation; passes the rest.
- memoriser-shifted (copies shifted cyclically): flagged by the translation-aware memorisation; passes the
  metrics with periodic boundaries (the cyclic shift puts seams into maps that are not periodic, which the
  starlet transform, with its replicated edges, sees at n = 1,229: not asserted either way).
- collapsed (4 distinct maps, mode collapse): flagged by power-spectrum (mean and covariance), minkowski,
  peaks and starlet (mean); passes memorisation.
"""

import numpy as np
import pytest
from scipy import stats as sps

from emubench.models import resolve_model
from emubench.scoring import score, verdicts

DISTRIBUTIONAL = {
    ("pixel-ks", "distribution"),
    ("power-spectrum", "mean"),
    ("power-spectrum", "covariance"),
    ("minkowski", "mean"),
    ("minkowski", "covariance"),
    ("peaks", "mean"),
    ("peaks", "covariance"),
}
# the statistics added later (no periodic boundaries: a cyclic shift's seam is theirs to see)
HIGHER_ORDER = {
    ("starlet", "mean"),
    ("starlet", "covariance"),
    ("betti", "mean"),
    ("betti", "covariance"),
    ("joint", "cross-covariance"),
}
EXPECT = {
    "grf": (
        {("pixel-ks", "distribution"), ("minkowski", "mean"), ("peaks", "mean"), ("starlet", "mean")},
        {("power-spectrum", "mean"), ("memorisation", "memorisation")},
    ),
    "lognormal": (
        {("minkowski", "mean"), ("peaks", "mean"), ("starlet", "mean")},
        {("power-spectrum", "mean"), ("memorisation", "memorisation")},
    ),
    "lognormal-crops": (
        set(),
        {
            ("pixel-ks", "distribution"),
            ("power-spectrum", "mean"),
            ("power-spectrum", "covariance"),
            ("peaks", "mean"),
            ("memorisation", "memorisation"),
        },
    ),
    "memoriser": ({("memorisation", "memorisation")}, DISTRIBUTIONAL | HIGHER_ORDER),
    "memoriser-d4": ({("memorisation", "memorisation")}, DISTRIBUTIONAL | HIGHER_ORDER),
    "memoriser-shifted": ({("memorisation", "memorisation")}, DISTRIBUTIONAL),
    "collapsed": (
        {
            ("power-spectrum", "mean"),
            ("power-spectrum", "covariance"),
            ("minkowski", "mean"),
            ("peaks", "mean"),
            ("starlet", "mean"),
        },
        {("memorisation", "memorisation")},
    ),
}


@pytest.fixture(scope="module")
def splits():
    from emubench.data import open_dataset, split

    return split(open_dataset("lognormal-lcdm-64", n_maps=2048), 0)


@pytest.fixture(scope="module")
def cache():
    """The null of the module's splits, shared by every score against them (it does not depend on the model)."""
    return {}


@pytest.mark.slow
@pytest.mark.parametrize("baseline", sorted(EXPECT))
def test_baseline_verdicts(baseline, splits, cache):
    model, _ = resolve_model(baseline, splits["train"], seed=0)
    n = len(splits["val"])
    df, _ = score(
        model.sample(n, seed=0), splits, seed=0, floor_draws=1000, bootstrap_draws=0, model=baseline, cache=cache
    )
    got = {(r.metric, r.aspect): r.verdict for r in verdicts(df).itertuples()}
    must_flag, must_pass = EXPECT[baseline]
    for key in must_flag:
        assert got[key] == "flag", f"{baseline} not caught by {key}: {got}"
    for key in must_pass:
        assert got[key] == "pass", f"{baseline} wrongly flagged by {key}: {got}"


@pytest.mark.slow
def test_perfect_emulators_are_flagged_at_the_stated_rate():
    """20 perfect emulators (the test split of the same dataset made with other seeds) against the reference: the
    number flagged, per verdict and for the whole score, stays within the 99.9% binomial bound of the stated
    rate. Every metric of a default score and every opt-in one (bispectrum, minima, scattering): 19 verdicts.
    (Before calibrated verdicts, 43% of them got a flag at the default size.)"""
    from emubench.calibration import false_positive_rates, rate_table
    from emubench.data import open_dataset, split
    from emubench.scoring import default_metrics

    splits = split(open_dataset("lognormal-lcdm-64", n_maps=1024), 0)
    metrics = [*default_metrics(splits), "bispectrum", "minima", "scattering"]
    seeds = list(range(100, 120))
    v = false_positive_rates("lognormal-lcdm-64", seeds, options={"n_maps": 1024}, floor_draws=400, metrics=metrics)
    assert set(v.metric) == set(metrics)
    table = rate_table(v)
    for r in table.itertuples():
        bound = sps.binom.ppf(0.999, r.emulators, r.stated)
        assert r.flagged <= bound, table.to_string()
    # the table's own arithmetic: verdict rates share alpha evenly, and the whole score is flagged when any of
    # its verdicts is, so its count lies between the largest verdict count and their sum
    per, whole = table.iloc[:-1], table.iloc[-1]
    assert per.stated.sum() == pytest.approx(whole.stated) and per.stated.nunique() == 1
    assert per.flagged.max() <= whole.flagged <= per.flagged.sum()


@pytest.mark.slow
def test_a_one_percent_amplitude_error_is_caught_by_the_power_spectrum():
    """Real held-out maps at 1.01× κ (C_ℓ 2% high) at the default size: power-spectrum/mean flags them, and the
    amplitude row says 1.02 within its interval."""
    from emubench.data import open_dataset, split

    s = split(open_dataset("lognormal-lcdm-64"), 0)
    test = s["test"].head(len(s["test"]))
    df, _ = score(1.01 * test, s, metrics=["power-spectrum"], bootstrap_draws=0)
    v = verdicts(df).set_index(["metric", "aspect"])
    assert v.loc[("power-spectrum", "mean"), "verdict"] == "flag"
    amp = df[df.statistic == "amplitude"].iloc[0]
    assert amp.ci_low <= 1.0201 <= amp.ci_high and amp.ci_low > 1.0


@pytest.mark.parametrize(
    "shift,noise,crop",
    [
        ((8, 0), 0.0, False),
        ((17, 17), 0.0, False),
        ((8, 0), 0.5, False),
        ((17, 17), 0.5, False),
        ((8, 8), 0.0, True),
        ((0, 17), 0.5, True),
    ],
)
@pytest.mark.slow
def test_translated_copies_are_caught_by_memorisation(splits, cache, shift, noise, crop):
    """Training maps shifted cyclically by 8 or 17 pixels, or cut at an offset (the uncovered strips from other
    maps, so not periodic), with or without white noise of 0.5 σ_κ: memorisation flags them."""
    train = splits["train"]
    n = len(splits["val"])
    rng = np.random.default_rng(5)
    src = train.get(np.sort(rng.choice(len(train), n, replace=False)))
    maps = np.roll(src, shift, axis=(1, 2))
    if crop:  # the rows/columns that wrapped around come from other maps instead
        other = train.get(np.sort(rng.choice(len(train), n, replace=False)))
        dy, dx = shift
        maps[:, :dy, :], maps[:, :, :dx] = other[:, :dy, :], other[:, :, :dx]
    maps = maps + noise * src.std() * rng.standard_normal(maps.shape).astype(np.float32)
    df, _ = score(maps, splits, metrics=["memorisation"], seed=0, floor_draws=1000, bootstrap_draws=0, cache=cache)
    mem = df[(df.metric == "memorisation") & (df.statistic == "fraction-near-copies")].iloc[0]
    assert mem.flagged and mem.value > 0.5, mem


@pytest.mark.parametrize("which", ["false_positive_rates", "sensitivity", "cosmology_false_positive_rates"])
def test_an_emulator_seed_equal_to_the_reference_seed_is_refused(which):
    """An emulator made from the reference's own dataset seed would score its own maps (and null pools): every
    calibration refuses it before any dataset is made."""
    from emubench import calibration
    from emubench.errors import EmubenchError

    with pytest.raises(EmubenchError, match="emulator seed 7 is the reference's own dataset seed"):
        getattr(calibration, which)("lognormal-cosmo-64", [6, 7], options={"seed": 7})


@pytest.mark.slow
def test_floors_are_the_same_for_every_model():
    """The null is made of real maps only, so a row's floor depends on the reference and the settings, never on
    the model: a perfect emulator, the same maps with 1 σ_κ white noise, ``grf`` and ``memoriser``, each scored
    with a cache of its own (the null computed anew), get the same floor on every summary row (n = 154). (When
    the null drew from generated ∪ fresh maps, 1 σ_κ noise passed minkowski/covariance and V0's χ²/dof floor ran
    from 0.8 to 4,583 across models.)"""
    from emubench.calibration import perfect_maps
    from emubench.data import open_dataset, split

    splits = split(open_dataset("lognormal-lcdm-64", n_maps=1024), 0)
    n = len(splits["val"])
    perfect = perfect_maps("lognormal-lcdm-64", {"n_maps": 1024}, 100, n)
    noisy = perfect + np.random.default_rng(1).standard_normal(perfect.shape).astype(np.float32) * perfect.std()
    sets = {"perfect": perfect, "noise": noisy}
    for name in ("grf", "memoriser"):
        sets[name] = resolve_model(name, splits["train"], seed=0)[0].sample(n, seed=0)
    floors, flagged = {}, {}
    for name, maps in sets.items():
        df, _ = score(maps, splits, seed=0, floor_draws=1000, bootstrap_draws=0, model=name, cache={})
        summary = df[df.summary].set_index(["metric", "statistic"])
        floors[name] = summary["floor"]
        flagged[name] = {(r.metric, r.aspect) for r in verdicts(df).itertuples() if r.verdict == "flag"}
    assert len(floors["perfect"]) > 30
    for name, f in floors.items():
        assert np.array_equal(f.to_numpy(), floors["perfect"].to_numpy()), name
    assert not flagged["perfect"]
    assert {("minkowski", "covariance"), ("pixel-ks", "distribution"), ("power-spectrum", "mean")} <= flagged["noise"]
    assert ("memorisation", "memorisation") in flagged["memoriser"]


@pytest.mark.slow
def test_power_never_falls_as_a_flaw_grows():
    """Every distributional verdict against amplitude (to 10%), smoothing (to 2 px), white noise (to 3 σ_κ),
    variance (to 20%) and Fourier phases partly randomised (to 100%: the power spectrum cannot see it, starlet
    must), and memorisation against a growing fraction of whole copies, patchworks and pasted crops
    (to 10% of the maps), at a small size (n = 154, one basis, 400 null draws): no verdict passes a flaw larger
    than one it flagged; the largest of each flaw is flagged by most verdicts (memorisation by itself).
    ``passes_after_flag`` finds a fall
    where there is one."""
    import pandas as pd

    from emubench.calibration import COPY_FLAWS, FLAWS, passes_after_flag, sensitivity

    table, smallest = sensitivity("lognormal-lcdm-64", [100], options={"n_maps": 1024}, floor_draws=400)
    assert set(table.flaw) == set(FLAWS) | set(COPY_FLAWS) and table.level.max() >= 3.0
    assert set(table[table.flaw.isin(list(COPY_FLAWS))].metric) == {"memorisation"}
    # phases partly randomised keep every map's C_ℓ: the power spectrum passes at every level, starlet flags
    phases = table[table.flaw == "phases"]
    assert (phases[phases.metric == "power-spectrum"].verdict == "pass").all()
    assert (phases[phases.metric == "starlet"].verdict == "flag").any()
    assert passes_after_flag(table).empty, passes_after_flag(table)
    assert (smallest.passed_above == "").all()
    largest = table[table["level"] == table.groupby("flaw")["level"].transform("max")]
    assert (largest.groupby("flaw").verdict.apply(lambda v: (v == "flag").mean()) >= 0.7).all(), largest
    fall = pd.DataFrame(
        {"flaw": "noise", "metric": "m", "aspect": "a", "basis": 0, "level": [0.1, 0.3, 1.0],
         "verdict": ["pass", "flag", "pass"], "p_value": 0.5}
    )  # fmt: skip
    got = passes_after_flag(fall)
    assert got[["level", "flagged_at"]].values.tolist() == [[1.0, 0.3]]


@pytest.mark.slow
def test_memorisation_sees_copies_not_missing_small_scale_power(splits, cache):
    """Like with like: fresh maps smoothed by 1 px and rescaled to the real σ_κ, and 2× upsampled crops of maps
    that are not training maps, lack small-scale power but copy nothing: not flagged (the earlier statistic,
    training split against a smaller validation split, flagged 8% and 7% of them at n = 1,229). Whole copies of
    5% of the maps, shifted and with 0.5 σ_κ of noise: flagged, and the detection limit is on the row. Maps
    stitched from quadrants of training maps (each shifted and turned), and fresh maps with one 32² training
    crop pasted at a random place under a random symmetry: flagged, most of them found (the whole-map
    statistic before found 0.08% and 0% of them at n = 1,229)."""
    from emubench.calibration import perfect_maps, smoothing
    from emubench.stats import symmetry

    n = len(splits["val"])
    rng = np.random.default_rng(3)
    fresh = perfect_maps("lognormal-lcdm-64", {"n_maps": 2048}, 100, n)
    other = perfect_maps("lognormal-lcdm-64", {"n_maps": 2048}, 101, n)
    train = splits["train"].get(slice(0, len(splits["train"])))
    smooth = smoothing(fresh, 1.0, rng)
    upsampled = np.repeat(np.repeat(other[:, :32, :32], 2, axis=1), 2, axis=2)
    copies = fresh.copy()
    k = int(0.05 * n)
    src = train[np.sort(rng.choice(len(train), k, replace=False))]
    copies[:k] = np.roll(src, (5, 9), axis=(1, 2)) + 0.5 * src.std() * rng.standard_normal(src.shape).astype(np.float32)
    quadrants, pasted = np.empty_like(fresh), fresh.copy()
    for i in range(n):
        for a, b in ((0, 0), (0, 32), (32, 0), (32, 32)):
            moved = np.roll(train[rng.integers(len(train))], tuple(rng.integers(0, 64, 2)), axis=(0, 1))
            quadrants[i, a : a + 32, b : b + 32] = symmetry(moved, rng.integers(8))[a : a + 32, b : b + 32]
        (oy, ox), (py, px) = rng.integers(0, 33, 2), rng.integers(0, 33, 2)
        crop = train[rng.integers(len(train)), oy : oy + 32, ox : ox + 32]
        pasted[i, py : py + 32, px : px + 32] = symmetry(crop, rng.integers(8))
    got = {}
    for name, maps in (
        ("smooth", smooth),
        ("upsampled", upsampled),
        ("copies", copies),
        ("quadrants", quadrants),
        ("pasted", pasted),
    ):
        maps = (maps * (fresh.std() / maps.std())).astype(np.float32)
        df, _ = score(maps, splits, metrics=["memorisation"], seed=0, floor_draws=1000, bootstrap_draws=0, cache=cache)
        got[name] = df.set_index("statistic")
    assert not got["smooth"].loc["fraction-near-copies", "flagged"]
    assert not got["upsampled"].loc["fraction-near-copies", "flagged"]
    row = got["copies"].loc["fraction-near-copies"]
    assert row.flagged and row.value >= 0.8 * k / n and row.one_sided, row
    limit = got["copies"].loc["detectable-copy-fraction", "value"]
    assert 0 < limit < k / n and row.floor < limit
    for name in ("quadrants", "pasted"):
        row = got[name].loc["fraction-near-copies"]
        assert row.flagged and row.value > 0.5, (name, row)


def test_memorisation_p_values_are_exact_in_the_far_tail():
    """The binomial tail is summed in log space: equal to exact rational arithmetic down to 2^-1229 (~1e-370,
    below the smallest double), where 1 − cdf in floating point gives 0."""
    import math
    from fractions import Fraction

    from emubench.metrics.memorisation import _log_binom_sf

    for k, m, q in (
        (77, 80, Fraction(1, 2)),
        (300, 400, Fraction(5, 6)),
        (1229, 1229, Fraction(1, 2)),
        (40, 1229, Fraction(1, 100)),
    ):
        exact = sum(math.comb(m, i) * q**i * (1 - q) ** (m - i) for i in range(k, m + 1))
        log_exact = math.log(exact.numerator) - math.log(exact.denominator)
        assert _log_binom_sf(k, m, float(q)) == pytest.approx(log_exact, rel=1e-9), (k, m, q)
    assert _log_binom_sf(0, 10, 0.5) == 0.0
