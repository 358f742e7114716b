"""Peak counts and the pixel pdf, LensTools' definitions."""

import numpy as np
import torch

from emubench.stats import moments, pdf, peak_counts


def test_peaks_strict_maximum_periodic_and_binned():
    m = np.zeros((16, 16), np.float32)
    m[3, 3] = 1.0  # a peak
    m[8, 8] = 2.5  # a peak
    m[12, 4] = m[12, 5] = 1.5  # a plateau: no strict maximum, no peak
    m[0, 0] = 3.5  # a corner peak: neighbours wrap around
    m[15, 15] = 0.5  # its wrapped neighbour, lower
    nu, counts = peak_counts(m, np.array([0.0, 2.0, 3.0, 4.0]))
    # bins [0,2): 1.0 (0.5 is a neighbour of 3.5 → not a peak); [2,3): 2.5; [3,4): 3.5; each adds 1/width
    np.testing.assert_allclose(counts, [1 / 2, 1.0, 1.0])


def test_peak_heights_use_float32_centre():
    m = np.zeros((8, 8))
    m[4, 4] = 1.0 + 1e-12  # rounds to 1.0 in float32, so it sits in the bin starting at 1.0
    _, counts = peak_counts(m, np.array([0.5, 1.0, 1.5]))
    np.testing.assert_allclose(counts, [0.0, 2.0])


def test_pdf_equals_numpy_histogram_density_times_sigma():
    rng = np.random.default_rng(5)
    maps = rng.lognormal(size=(3, 32, 32)) - 1.5
    edges = np.linspace(-2, 3, 11)
    for norm in (False, True):
        _, p = pdf(maps, edges, norm=norm)
        for i, m in enumerate(maps):
            s = m.std() if norm else 1.0
            want = np.histogram(m, bins=edges * s, density=True)[0] * s
            np.testing.assert_allclose(p[i], want, rtol=1e-12)


def test_pdf_last_bin_is_closed():
    m = np.tile([[0.0, 1.0], [1.0, 2.0]], (4, 4))
    _, p = pdf(m, np.array([0.0, 1.0, 2.0]))
    np.testing.assert_allclose(p, np.histogram(m, bins=[0.0, 1.0, 2.0], density=True)[0])


def test_moments():
    rng = np.random.default_rng(6)
    maps = rng.exponential(size=(5, 64, 64))
    mom = moments(torch.as_tensor(maps))
    from scipy import stats as sps

    np.testing.assert_allclose(mom["skewness"].numpy(), sps.skew(maps.reshape(5, -1), axis=1), rtol=1e-10)
    np.testing.assert_allclose(mom["kurtosis"].numpy(), sps.kurtosis(maps.reshape(5, -1), axis=1), rtol=1e-10)
    np.testing.assert_allclose(mom["variance"].numpy(), maps.reshape(5, -1).var(1), rtol=1e-12)
