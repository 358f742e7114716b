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
    does: edges[i] <= v < edges[i+1], the last bin closed above; below, above and NaN in the outer columns."""
    import torch

    from emubench.stats.wavelets import _Columns

    e = torch.as_tensor(edges)
    at = torch.cat([e, torch.nextafter(e, e + 1), torch.nextafter(e, e - 1)])
    rng = np.random.default_rng(0)
    values = torch.cat([at, torch.as_tensor(rng.uniform(-8, 10, 100_000)), torch.tensor([np.nan, np.inf, -np.inf])])
    got = _Columns(e)(values[None])[0].numpy()
    v = values.numpy()
    want = np.searchsorted(edges, v, side="right")  # edges <= v: 0 below, len(edges) above the last
    want[v == edges[-1]] = len(edges) - 1
    want[np.isnan(v)] = len(edges)
    assert np.array_equal(got, want)
    counts = np.bincount(got, minlength=len(edges) + 1)[1:-1]
    assert np.array_equal(counts, np.histogram(v[np.isfinite(v)], edges)[0])
    assert _Columns(e).arithmetic == (len(edges) == 281)
