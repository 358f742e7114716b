"""Scattering coefficients (emubench.stats.scattering): analytic cases in the default suite; parity with kymatio
map by map is in tests/test_kymatio_parity.py (`tox -e kymatio`)."""

import math

import numpy as np
import pytest
import torch
from helpers import gaussian_field

from emubench.stats import scattering_coefficients, scattering_transform
from emubench.stats.scattering import scattering_pairs


def test_shapes_and_order_of_the_paths():
    maps = gaussian_field(3, 64, seed=1)
    for J, L in ((4, 8), (3, 4), (1, 2)):
        s = scattering_transform(maps, J, L)
        assert s.shape == (3, 1 + J * L + L * L * J * (J - 1) // 2, 64 // 2**J, 64 // 2**J)
        s0, s1, s2 = scattering_coefficients(maps, J, L)
        assert s0.shape == (3,) and s1.shape == (3, J) and s2.shape == (3, len(scattering_pairs(J)))
        # the reduced set is the paths' mean over angles and positions
        np.testing.assert_allclose(s1, s[:, 1 : 1 + J * L].mean(axis=(2, 3)).reshape(3, J, L).mean(2), rtol=1e-10)
    assert scattering_pairs(4) == [(0, 1), (0, 2), (0, 3), (1, 2), (1, 3), (2, 3)]
    assert scattering_transform(maps[0], 3, 4).shape == scattering_transform(maps, 3, 4)[0].shape  # one map
    assert torch.is_tensor(scattering_transform(torch.as_tensor(maps), 2, 4))


def test_passes_of_any_size_give_the_same_bits(monkeypatch):
    """The maps go through the transform a few at a time (passes of bounded memory); how many is a matter of
    speed only: one map a pass, the default and all seven at once give identical coefficients and paths."""
    from emubench.stats import scattering

    maps = gaussian_field(7, 32, seed=4)
    runs = []
    for elements in (1, scattering.CHUNK_ELEMENTS, 1 << 30):
        monkeypatch.setattr(scattering, "CHUNK_ELEMENTS", elements)
        runs.append((*scattering_coefficients(maps, 3, 4), scattering_transform(maps.astype(np.float32), 3, 4)))
    for other in runs[1:]:
        assert all(np.array_equal(a, b) for a, b in zip(runs[0], other))


def test_a_constant_map_has_only_its_low_pass():
    """Wavelets have zero mean, so every modulus path of a constant map is 0; S0 is the constant times φ's
    mean, π/3.1415 with kymatio's normalisation (its 2·3.1415·σ² for 2πσ²)."""
    s0, s1, s2 = scattering_coefficients(np.full((2, 64, 64), 0.02), 4, 8)
    np.testing.assert_allclose(s0, 0.02 * math.pi / 3.1415, rtol=1e-9)
    assert np.abs(s1).max() < 1e-12 and np.abs(s2).max() < 1e-12


def test_coefficients_scale_with_the_amplitude_and_ignore_the_sign():
    """|x ∗ ψ| is homogeneous of degree 1: the map times −3 has 3 times its first and second order."""
    maps = gaussian_field(4, 64, seed=2)
    a = scattering_coefficients(maps, 4, 8)
    b = scattering_coefficients(-3.0 * maps, 4, 8)
    np.testing.assert_allclose(b[1], 3 * a[1], rtol=1e-9)
    np.testing.assert_allclose(b[2], 3 * a[2], rtol=1e-9)


def test_the_first_order_follows_the_power_at_each_scale():
    """s1(j) is the power near wavenumber 3π/4 / 2^j through a modulus: a red spectrum (more power at large
    scales) has s1 rising with j, a blue one falling."""
    red = scattering_coefficients(gaussian_field(8, 64, slope=-3.0, seed=3), 4, 8)[1].mean(0)
    blue = scattering_coefficients(gaussian_field(8, 64, slope=1.0, seed=3), 4, 8)[1].mean(0)
    assert np.all(np.diff(red) > 0) and np.all(np.diff(blue) < 0)


@pytest.mark.slow  # 128 maps through both orders: ~17 s on 2 cores
def test_second_order_sees_what_the_power_spectrum_cannot():
    """Lognormal maps against the same maps with their Fourier phases randomised (the power spectrum kept
    exactly): s2/s1, the coupling across scales, differs by many standard errors."""
    from emubench.data.lognormal import generate

    maps = generate(64, npix=64, seed=4)
    rng = np.random.default_rng(0)
    f = np.fft.rfft2(maps)
    phases = np.exp(2j * np.pi * rng.random(f.shape))
    gauss = np.fft.irfft2(np.abs(f) * phases, s=maps.shape[-2:])  # same |FFT|, random phases
    ratio = []
    for m in (maps, gauss):
        _, s1, s2 = scattering_coefficients(m, 4, 8)
        ratio.append(s2[:, 0] / s1[:, 0])  # (j1, j2) = (0, 1)
    diff = ratio[0].mean() - ratio[1].mean()
    se = np.sqrt(ratio[0].var(ddof=1) / 64 + ratio[1].var(ddof=1) / 64)
    assert abs(diff) > 5 * se, (diff, se)


def test_bad_scales_are_refused():
    maps = gaussian_field(1, 64, seed=5)
    for J, L in ((0, 8), (6, 8), (4, 0)):
        with pytest.raises(ValueError, match="need J"):
            scattering_coefficients(maps, J, L)
