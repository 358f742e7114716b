"""The bispectrum: a case worked out by hand, a Gaussian field's (zero in expectation), batching and devices.
Parity with LensTools map by map is in tests/test_lenstools_parity.py (tox -e lenstools)."""

import math

import numpy as np
import pytest
import torch

from emubench.stats import bispectrum
from emubench.stats.bispectrum import _triangles
from emubench.stats.power import default_ell_edges

SIDE, N = 0.866, 32


def test_two_harmonics_give_the_folded_bispectrum_worked_out_by_hand():
    """κ = cos(q·x) + cos(2q·x): the only folded triangle (ratio 0.5) with three non-zero legs has k1 = 2q and
    k2 = k3 = −q, each F of modulus N²/2 and phase 0, so B = (N²/2)³ / (triangles in the bin) · side_rad⁴ / N⁶
    in the bin of ℓ(2q), and 0 in every other bin."""
    q = np.array([1, 2])
    y, x = np.mgrid[0:N, 0:N]
    phase = lambda k: 2 * np.pi * (k[0] * y + k[1] * x) / N  # noqa: E731 (k = (kx along rows, ky along columns))
    m = np.cos(phase(q)) + np.cos(phase(2 * q))
    edges = np.array([0.5, 3.0, 5.0, 16.0]) * 360 / SIDE
    ell, b = bispectrum(m, SIDE, edges, "folded", 0.5)
    counts = _triangles(N, SIDE, tuple(edges), "folded", 0.5)[-1]
    target = 1  # |2q| = √20 ≈ 4.47: the bin (3, 5]
    expected = np.zeros(3)
    expected[target] = (N * N / 2) ** 3 / counts[target] * math.radians(SIDE) ** 4 / N**6
    np.testing.assert_allclose(b, expected, rtol=1e-10, atol=1e-12 * expected.max())
    np.testing.assert_allclose(ell, 0.5 * (edges[:-1] + edges[1:]))


@pytest.mark.parametrize("configuration", ["equilateral", "folded"])
def test_a_gaussian_field_has_no_bispectrum(configuration):
    """Over 400 Gaussian fields the mean of each bin is within 4 standard errors of 0, while the same fields
    made lognormal (skewed) have a positive bispectrum at low ℓ (over 5 standard errors)."""
    rng = np.random.default_rng(5)
    g = np.fft.irfft2(np.fft.rfft2(rng.standard_normal((400, N, N))) * np.exp(-0.02 * np.arange(N // 2 + 1)), s=(N, N))
    edges = default_ell_edges(N, SIDE)
    _, b = bispectrum(g, SIDE, edges, configuration)
    z = b.mean(0) / (b.std(0, ddof=1) / np.sqrt(len(b)))
    assert np.all(np.abs(z[np.isfinite(z)]) < 4), z
    _, skewed = bispectrum(np.exp(g / g.std()), SIDE, edges, configuration)
    assert skewed.mean(0)[0] / (skewed.std(0, ddof=1)[0] / np.sqrt(len(skewed))) > 5


def test_batches_single_maps_torch_and_bad_arguments(small_maps):
    edges = default_ell_edges(64, SIDE)
    _, b = bispectrum(small_maps[:5], SIDE, edges)
    _, one = bispectrum(small_maps[3], SIDE, edges)
    _, t = bispectrum(torch.as_tensor(small_maps[:5]), SIDE, edges)
    np.testing.assert_allclose(one, b[3], rtol=1e-12)
    assert isinstance(t, torch.Tensor)
    np.testing.assert_allclose(t.numpy(), b, rtol=1e-12)
    with pytest.raises(ValueError, match="configuration"):
        bispectrum(small_maps[:2], SIDE, edges, "isosceles")
    with pytest.raises(ValueError, match="ratio"):
        bispectrum(small_maps[:2], SIDE, edges, "folded", 1.5)
