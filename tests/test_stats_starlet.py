"""The starlet statistics on cases with known answers (parity with lenspack: tests/test_lenspack_parity.py)."""

import numpy as np
import pytest

from emubench.stats import starlet, starlet_statistics


def test_planes_sum_back_to_the_map_and_a_constant_has_no_detail(small_maps):
    m = small_maps[:8].astype(np.float64)
    w = starlet(m, 4)
    assert w.shape == (8, 5, 64, 64)
    np.testing.assert_allclose(w.sum(1), m, rtol=0, atol=1e-15)
    flat = starlet(np.full((2, 32, 32), 0.3), 3)
    np.testing.assert_allclose(flat[:, :3], 0, atol=1e-15)
    np.testing.assert_allclose(flat[:, 3], 0.3, rtol=1e-15)


def test_a_delta_gives_the_b3_spline_at_each_scale():
    """A unit delta far from the edges: the first smoothing is the outer product of h = [1, 4, 6, 4, 1]/16, so
    w_0 at the delta is 1 − (6/16)²; at scale 1 the kernel's taps sit 2 pixels apart, so along each axis c_2 at
    the delta is h_1·c_1(2) + h_2·c_1(0) + h_3·c_1(−2) = (4 + 36 + 4)/256, and w_1 = (6/16)² − (44/256)²."""
    d = np.zeros((1, 64, 64))
    d[0, 32, 32] = 1.0
    w = starlet(d, 2)
    h = np.array([1, 4, 6, 4, 1]) / 16
    assert w[0, 0, 32, 32] == pytest.approx(1 - h[2] ** 2)
    c1 = np.outer(h, h)  # c_1 around the delta
    np.testing.assert_allclose(d[0, 30:35, 30:35] - w[0, 0, 30:35, 30:35], c1, atol=1e-15)
    assert w[0, 1, 32, 32] == pytest.approx(h[2] ** 2 - (44 / 256) ** 2, rel=1e-12)


def test_peaks_minima_and_l1_of_a_planted_pattern():
    """Two bumps and a dip on a flat map: at the finest scale exactly 2 peaks and 1 minimum in the bins of their
    heights (with S/N edges wide enough to hold all), and ℓ1 summed over bins is Σ|w_0/σ| over all pixels."""
    m = np.zeros((1, 32, 32))
    m[0, 8, 8], m[0, 20, 12], m[0, 14, 24] = 1.0, 2.0, -1.5
    w0 = starlet(m, 1)[0, 0]
    edges = np.linspace(-10, 10, 201)
    _, got = starlet_statistics(m, 1, edges, [0.5])
    centres = (edges[:-1] + edges[1:]) / 2
    peak_heights = np.repeat(centres, got["peaks"][0, 0].astype(int))
    minima_heights = np.repeat(centres, got["minima"][0, 0].astype(int))
    assert len(peak_heights) == 2 and len(minima_heights) == 1
    np.testing.assert_allclose(sorted(peak_heights), sorted([w0[8, 8] / 0.5, w0[20, 12] / 0.5]), atol=0.05)
    np.testing.assert_allclose(minima_heights, [w0[14, 24] / 0.5], atol=0.05)
    assert got["l1"].sum() == pytest.approx(np.abs(w0 / 0.5).sum())


def test_bad_scales_and_units_are_refused():
    m = np.zeros((2, 16, 16))
    with pytest.raises(ValueError, match="nscales"):
        starlet(m, 4)  # 2^5 > 16
    with pytest.raises(ValueError, match="sigma must hold 2"):
        starlet_statistics(m, 2, [0, 1], [1.0])


def test_a_subset_of_kinds_equals_the_full_computation():
    """``starlet_l1_norm`` and ``starlet_peaks`` compute only their own kinds (finding extrema is the costly part)
    and give exactly what ``starlet_statistics`` gives for all three; an unknown kind is refused by name."""
    from emubench.data.lognormal import generate
    from emubench.stats import starlet_l1_norm, starlet_peaks

    m = generate(6, npix=64, seed=5).astype(np.float64)
    edges, sigma = np.linspace(-4, 6, 21), [0.01, 0.008, 0.006]
    _, every = starlet_statistics(m, 3, edges, sigma)
    _, l1 = starlet_l1_norm(m, 3, edges, sigma)
    _, peaks, minima = starlet_peaks(m, 3, edges, sigma)
    assert np.array_equal(l1, every["l1"]) and np.array_equal(peaks, every["peaks"])
    assert np.array_equal(minima, every["minima"]) and every["peaks"].sum() > 0
    with pytest.raises(ValueError, match="kinds must be some of"):
        starlet_statistics(m, 3, edges, sigma, kinds=("voids",))


@pytest.mark.parametrize("edges", [np.linspace(-6.0, 8.0, 281), np.array([-3.0, -1.0, 0.0, 0.5, 2.0, 5.0])])
def test_bin_columns_equal_a_binary_search_at_and_next_to_every_edge(edges):
    """Bins by arithmetic (evenly spaced edges) or binary search (others) put every value where numpy.histogram
    does: edges[i] <= v < edges[i+1], the last bin closed above; below, above and NaN in the outer columns. The
    statistics' own loop estimates columns apart from ``_column``: its ℓ1 sums must bin the same way."""
    from emubench.stats.wavelets import bin_columns, binning

    at = np.concatenate([edges, np.nextafter(edges, edges + 1), np.nextafter(edges, edges - 1)])
    rng = np.random.default_rng(0)
    v = np.concatenate([at, rng.uniform(-8, 10, 100_000), [np.nan, np.inf, -np.inf]])
    got = bin_columns(v, edges)
    want = np.searchsorted(edges, v, side="right")  # edges <= v: 0 below, len(edges) above the last
    want[v == edges[-1]] = len(edges) - 1
    want[np.isnan(v)] = len(edges)
    assert np.array_equal(got, want)
    counts = np.bincount(got, minlength=len(edges) + 1)[1:-1]
    assert np.array_equal(counts, np.histogram(v[np.isfinite(v)], edges)[0])
    assert binning(edges)[1] == (len(edges) == 281)  # arithmetic on the even grid only


def test_l1_sums_bin_as_bin_columns_on_edges_and_off():
    """The statistics' loop estimates each pixel's column on its own (vectorised): its ℓ1 sums equal numpy's
    bincount of |S| over ``bin_columns`` of the transform's planes, to the bit, on the even grid and off it, with
    the map quantised so that many S fall on edges."""
    from emubench.data.lognormal import generate
    from emubench.stats.wavelets import bin_columns

    m = np.round(generate(4, npix=64, seed=7).astype(np.float64) / 0.004) * 0.004
    sigma = starlet(m, 3)[:, :3].std(axis=(0, 2, 3))
    planes = starlet(m, 3)
    for edges in (np.linspace(-6.0, 8.0, 281), np.array([-3.0, -1.0, 0.0, 0.5, 2.0, 5.0])):
        _, got = starlet_statistics(m, 3, edges, sigma, kinds=("l1",))
        for i in range(4):
            for j in range(3):
                snr = (planes[i, j] / sigma[j]).ravel()
                want = np.bincount(bin_columns(snr, edges), weights=np.abs(snr), minlength=len(edges) + 1)
                assert np.array_equal(got["l1"][i, j], want[1:-1]), (i, j)


def test_threads_torch_input_and_nan():
    """One thread or two give the same bits; torch in, torch out; a map with a NaN has no extrema (its shifted
    map is NaN everywhere, as in lenspack) and its NaN pixels are in no ℓ1 bin, beside maps left as they were."""
    import torch

    from emubench.data.lognormal import generate

    m = generate(5, npix=64, seed=6).astype(np.float64)
    edges, sigma = np.linspace(-6, 8, 281), [0.01, 0.008, 0.006]
    before = torch.get_num_threads()
    try:
        runs = []
        for threads in (1, 2):
            torch.set_num_threads(threads)
            runs.append(starlet_statistics(m, 3, edges, sigma)[1])
    finally:
        torch.set_num_threads(before)
    assert all(np.array_equal(runs[0][k], runs[1][k]) for k in runs[0])
    _, t = starlet_statistics(torch.as_tensor(m), 3, edges, sigma)
    assert isinstance(t["l1"], torch.Tensor) and np.array_equal(t["peaks"].numpy(), runs[0]["peaks"])
    bad = m.copy()
    bad[2, 30, 30] = np.nan
    _, got = starlet_statistics(bad, 3, edges, sigma)
    assert got["peaks"][2].sum() == 0 and got["minima"][2].sum() == 0 and np.isfinite(got["l1"][2]).all()
    for k in got:
        assert np.array_equal(np.delete(got[k], 2, 0), np.delete(runs[0][k], 2, 0))


def test_values_that_tie_once_shifted_are_no_peak():
    """lenspack shifts S by its minimum before comparing neighbours: a pixel one ulp above its flat surroundings is
    a peak of S but ties once 10⁶ is added, so it is none; the deep pixel that caused the shift is a minimum."""
    from emubench.stats.wavelets import _extrema, binning

    snr = np.ones((8, 8))
    snr[3, 3] = np.nextafter(1.0, 2.0)
    snr[6, 5] = -1e6
    edges = np.array([-2e6, 0.0, 2.0])
    peaks, minima = np.zeros(4), np.zeros(4)
    _extrema(snr, snr.min(), snr.max(), binning(edges), np.empty((3, 8)), peaks, minima)
    assert peaks.sum() == 0 and minima[1] == 1 and minima.sum() == 1
    snr[6, 5] = 0.5  # a shallow minimum: now the shifted values differ too, and the pixel is a peak
    peaks[:], minima[:] = 0, 0
    _extrema(snr, snr.min(), snr.max(), binning(edges), np.empty((3, 8)), peaks, minima)
    assert peaks[2] == 1 and minima[2] == 1
