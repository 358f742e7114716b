"""The cross-statistic verdict (``joint``): it sees statistics that no longer vary together, which no verdict on
one statistic can, and it keeps its stated rate on real maps."""

import numpy as np
import pytest

from emubench.metrics.joint import BLOCKS, JointMetric, cross_correlation_rms
from emubench.scoring import score, verdicts


def test_cross_correlation_rms_of_known_matrices():
    """Two blocks of 2: the RMS of the four cross-block correlation differences; within-block ones ignored."""
    ref = np.eye(4)
    ref[0, 2] = ref[2, 0] = 0.5
    gen = np.eye(4)
    gen[0, 1] = gen[1, 0] = 0.9  # within block 0: not this verdict's business
    gen[1, 3] = gen[3, 1] = -0.3
    got = cross_correlation_rms(gen[None] * 4.0, ref, [2, 2])  # covariances: scale does not matter
    (name,) = got
    assert name == f"{BLOCKS[0][0]}x{BLOCKS[1][0]}-corr-rms-diff"
    assert got[name][0] == pytest.approx(np.sqrt((0.5**2 + 0.3**2) / 4))
    assert cross_correlation_rms(ref[None], ref, [2, 2])[name][0] == 0.0


@pytest.fixture(scope="module")
def scored(small_splits):
    """Fresh maps of the generator scored with every statistic the joint verdict reads, and the same maps with the
    C_ℓ of each map taken from another map (every statistic's own set of per-map curves unchanged)."""
    from emubench.calibration import perfect_maps

    n = len(small_splits["val"])
    fresh = perfect_maps("lognormal-lcdm-64", {"n_maps": 1024}, 100, n)
    names = ["power-spectrum", "minkowski", "peaks", "starlet", "joint"]
    cache: dict = {}
    settings = {"n": n, "floor_draws": 400, "bootstrap_draws": 0, "metrics": names, "cache": cache}
    perfect, ctx = score(fresh, small_splits, **settings)

    # The same maps, but each map's power spectrum is the next map's: planted in the per-score store that every
    # FeatureMetric reads its generated maps' features from (no set of maps has this property exactly).
    from emubench.metrics.base import Context

    x, f = ctx.scratch[("power-spectrum", "features", "generated")]
    shuffled_spectra = (x, {k: np.roll(v, 1, axis=0) for k, v in f.items()})
    make = Context.from_reference

    def with_shuffled_spectra(*args, **kw):
        c = make(*args, **kw)
        c.scratch[("power-spectrum", "features", "generated")] = shuffled_spectra
        return c

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(Context, "from_reference", with_shuffled_spectra)
        shuffled, _ = score(fresh, small_splits, **settings)
    return perfect, shuffled


@pytest.mark.slow
def test_perfect_maps_pass_and_shuffled_statistics_are_flagged_by_joint_alone(scored):
    perfect, shuffled = scored
    v_perfect, v_shuffled = verdicts(perfect), verdicts(shuffled)
    assert (v_perfect.verdict == "pass").all(), v_perfect
    flagged = set(v_shuffled[v_shuffled.verdict == "flag"].metric)
    assert flagged == {"joint"}, v_shuffled
    # every single-statistic row is what it was: a set of curves does not know their order (up to the order of
    # sums)
    single = lambda df: df[(df.metric != "joint") & df.summary]  # noqa: E731
    a, b = single(perfect), single(shuffled)
    assert a.statistic.tolist() == b.statistic.tolist() and a.flagged.tolist() == b.flagged.tolist()
    for col in ("value", "floor", "p_value"):
        np.testing.assert_allclose(a[col], b[col], rtol=1e-9)
    joint = shuffled[(shuffled.metric == "joint") & shuffled.flagged]
    assert set(joint.statistic) >= {f"C_ellx{b}-corr-rms-diff" for b in ("V0", "peaks")}, joint
    assert not shuffled[(shuffled.metric == "joint") & ~shuffled.statistic.str.startswith("C_ell")].flagged.any()


@pytest.mark.slow
def test_joint_reuses_the_features_of_the_other_metrics(small_splits):
    """Scored after the four statistics it reads, joint computes no statistic again: its features come from the
    per-score store (generated maps) and the cache (reference, held-out set, null pool)."""
    from emubench.calibration import perfect_maps

    fresh = perfect_maps("lognormal-lcdm-64", {"n_maps": 1024}, 101, 120)
    calls = []
    original = JointMetric.features
    names = ["power-spectrum", "minkowski", "peaks", "starlet", "joint"]
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(
            JointMetric, "features", lambda self, maps, ctx: calls.append(len(maps)) or original(self, maps, ctx)
        )
        df, ctx = score(fresh, small_splits, n=120, floor_draws=400, bootstrap_draws=0, metrics=names)
    assert calls == []
    assert {"power-spectrum", "minkowski", "peaks", "starlet"} <= {k[0] for k in ctx.scratch}
