"""Power spectrum: LensTools conventions, white noise, a known spectrum, numpy/torch parity."""

import math

import numpy as np
import torch
from helpers import gaussian_field

from emubench.stats import default_ell_edges, power_spectrum
from emubench.stats.power import mode_ell


def test_white_noise_gives_variance_times_pixel_solid_angle():
    rng = np.random.default_rng(0)
    s, side, n = 0.3, 2.0, 128
    maps = s * rng.standard_normal((64, n, n))
    edges = default_ell_edges(n, side, 12)
    ell, p = power_spectrum(maps, side, edges)
    omega_pix = math.radians(side / n) ** 2
    ell_modes = mode_ell(n, side).numpy()
    modes = np.array([((ell_modes > lo) & (ell_modes <= hi)).sum() for lo, hi in zip(edges[:-1], edges[1:])]) * len(
        maps
    )
    # each mode's |F|² is exponential (χ²₂/2): the bin mean has relative error 1/√modes; allow 4σ
    assert np.all(np.abs(p.mean(0) / (s**2 * omega_pix) - 1) < 4 / np.sqrt(modes))
    assert p.shape == (64, len(edges) - 1) and ell.shape == (len(edges) - 1,) and len(edges) - 1 <= 12


def test_default_bins_hold_enough_modes_and_drop_none():
    """Sparse low-ℓ bins are merged, not dropped: every mode from 1.5·ℓ_fund to Nyquist is in exactly one bin,
    each bin holds at least MIN_MODES rfft2 coefficients, and the first edge does not sit on a mode."""
    from emubench.stats.power import MIN_MODES, mode_counts

    for npix, side in ((64, 0.866), (256, 0.866), (32, 1.0)):
        edges = default_ell_edges(npix, side)
        counts = mode_counts(edges, npix, side)
        ell = mode_ell(npix, side).numpy().ravel()
        lfun = 360 / side
        assert counts.sum() == ((ell > 1.5 * lfun) & (ell <= lfun * npix / 2 * (1 + 1e-12))).sum()
        assert counts.min() >= MIN_MODES, (npix, counts)
        assert np.abs(ell[:, None] - edges[None, :-1]).min() > 1e-6 * lfun  # the last edge is Nyquist itself
    raw = default_ell_edges(64, 0.866, min_modes=0)
    assert len(raw) == 21 and mode_counts(raw, 64, 0.866).min() == 0  # what merging avoids


def test_known_spectrum_is_recovered():
    """Periodic Gaussian fields made with C_ℓ ∝ ℓ^-2 on the FFT grid: each bin's mean power matches the
    mode-averaged input spectrum."""
    n, side = 128, 3.0
    maps = gaussian_field(200, n, slope=-2.0, seed=1)
    ell_grid = mode_ell(n, side).numpy()
    edges = default_ell_edges(n, side, 10)
    _, p = power_spectrum(maps, side, edges)
    # the input: |FFT|² ∝ k^-2 with unit variance; rebuild its C_ℓ from the same maps' normalisation
    k = np.sqrt(np.fft.fftfreq(n)[:, None] ** 2 + np.fft.rfftfreq(n)[None, :] ** 2)
    full_k = np.sqrt(np.fft.fftfreq(n)[:, None] ** 2 + np.fft.fftfreq(n)[None, :] ** 2)
    with np.errstate(divide="ignore"):
        power = np.where(k > 0, k**-2.0, 0.0)
        norm = (np.where(full_k > 0, full_k**-2.0, 0.0)).sum() / n**2  # variance of the unnormalised field
    c = power / norm * math.radians(side / n) ** 2  # C_ℓ of a unit-variance field
    target = [c[(ell_grid > lo) & (ell_grid <= hi)].mean() for lo, hi in zip(edges[:-1], edges[1:])]
    np.testing.assert_allclose(p.mean(0), target, rtol=0.06)


def test_lenstools_conventions_bins_midpoints_and_empty_bins():
    n, side = 256, 0.866
    edges = np.logspace(np.log10(400), np.log10(50000), 21)  # bin 2 (648–825) holds no modes at this size
    ell, p = power_spectrum(np.random.default_rng(2).standard_normal((3, n, n)), side, edges)
    np.testing.assert_allclose(ell, 0.5 * (edges[:-1] + edges[1:]))
    assert np.all(p[:, 2] == 0) and np.all(p[:, [0, 1, 3]] > 0)


def test_mean_is_not_subtracted_and_a_mode_counts_once():
    n, side = 16, 1.0
    const = np.full((n, n), 2.0)
    edges = np.array([-1.0, 0.5, 1e9])  # bin 0 holds ℓ = 0 only (−1 < 0 ≤ 0.5)
    _, p = power_spectrum(const, side, edges)
    assert p[0] == (math.radians(side) / n**2) ** 2 * (2.0 * n * n) ** 2 and p[1] == 0


def test_numpy_torch_and_single_map_agree():
    maps = np.random.default_rng(3).standard_normal((4, 32, 32)).astype(np.float32)
    edges = default_ell_edges(32, 1.0, 6)
    _, p_np = power_spectrum(maps, 1.0, edges)
    _, p_t = power_spectrum(torch.as_tensor(maps), 1.0, edges)
    _, p_one = power_spectrum(maps[1], 1.0, edges)
    assert isinstance(p_t, torch.Tensor) and p_t.dtype == torch.float64
    np.testing.assert_allclose(p_t.numpy(), p_np)
    np.testing.assert_allclose(p_one, p_np[1])
