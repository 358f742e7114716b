"""Parity with LensTools 1.2 ConvergenceMap, map by map. Runs under `tox -e lenstools` (numpy 1.23);
skipped where LensTools is not installed (it does not run on numpy >= 1.24)."""

import numpy as np
import pytest

lenstools = pytest.importorskip(
    "lenstools", reason="LensTools 1.2 is only installed in the tox 'lenstools' environment"
)
u = pytest.importorskip("astropy.units")

from helpers import gaussian_field  # noqa: E402

from emubench.data.lognormal import generate  # noqa: E402
from emubench.stats import bispectrum, minkowski, pdf, peak_counts, power_spectrum  # noqa: E402
from emubench.stats.power import default_ell_edges  # noqa: E402

SIDE = 0.866


def _maps():
    lognormal = generate(6, npix=128, side_deg=SIDE, seed=21)
    gaussian = (0.02 * gaussian_field(6, 128, smooth=2.0, seed=22)).astype(np.float32)
    # κ rounded to steps of 0.004: plateaus where ∇κ = 0, the limit case of V2's integrand
    quantised = (np.round(lognormal / 0.004) * 0.004).astype(np.float32)
    return [("lognormal", lognormal), ("gaussian", gaussian), ("quantised", quantised)]


@pytest.mark.parametrize("kind, maps", _maps())
def test_power_spectrum(kind, maps):
    edges = np.concatenate([np.logspace(np.log10(400), np.log10(50000), 21)])
    _, ours = power_spectrum(maps, SIDE, edges)
    for i, m in enumerate(maps):
        ell, p = lenstools.ConvergenceMap(m, angle=SIDE * u.deg).powerSpectrum(edges)
        np.testing.assert_allclose(ours[i], p, rtol=1e-6, atol=0)
    np.testing.assert_allclose(power_spectrum(maps, SIDE, edges)[0], ell)


@pytest.mark.parametrize("norm", [False, True])
@pytest.mark.parametrize("kind, maps", _maps())
def test_minkowski_peaks_pdf(kind, maps, norm):
    t = np.linspace(-2.5, 4.0, 27) if norm else np.linspace(-0.04, 0.08, 27)
    _, v0, v1, v2 = minkowski(maps, t, norm=norm)
    _, pk = peak_counts(maps, t, norm=norm)
    _, pd = pdf(maps, t, norm=norm)
    for i, m in enumerate(maps):
        c = lenstools.ConvergenceMap(m, angle=SIDE * u.deg)
        _, l0, l1, l2 = c.minkowskiFunctionals(t, norm=norm)
        np.testing.assert_array_equal(v0[i], l0)
        np.testing.assert_allclose(v1[i], l1, rtol=1e-6, atol=1e-12 * np.abs(l1).max())
        np.testing.assert_allclose(v2[i], l2, rtol=1e-6, atol=1e-9 * np.abs(l2).max())
        # Peaks and pdf: the integer counts must be identical; the normalisation differs only in the order of
        # floating-point operations (LensTools adds 1/width once per peak), i.e. in the last bits.
        c = lenstools.ConvergenceMap(m, angle=SIDE * u.deg)
        width = np.diff(t)
        lt_peaks = c.peakCount(t, norm=norm)[1]
        np.testing.assert_array_equal(np.round(pk[i] * width), np.round(lt_peaks * width))
        np.testing.assert_allclose(pk[i], lt_peaks, rtol=1e-13, atol=0)
        lt_pdf = c.pdf(t, norm=norm)[1]
        sigma = m.astype(np.float64).std() if norm else 1.0
        inside = ((m >= t[0] * sigma) & (m <= t[-1] * sigma)).sum()
        np.testing.assert_array_equal(np.round(pd[i] * width * inside), np.round(lt_pdf * width * inside))
        np.testing.assert_allclose(pd[i], lt_pdf, rtol=1e-13, atol=0)


@pytest.mark.parametrize("configuration, ratio", [("equilateral", 0.5), ("folded", 0.5), ("folded", 0.25)])
def test_bispectrum_on_16_maps_of_the_default_dataset(configuration, ratio):
    """The statistics issue's parity: 16 maps of the default dataset (64², 0.866°) in the power spectrum's
    default ℓ bins, within 1e-6 relative of LensTools (the same sums, in another order)."""
    maps = generate(16, npix=64, side_deg=SIDE, seed=31)
    edges = default_ell_edges(64, SIDE)
    ell, ours = bispectrum(maps, SIDE, edges, configuration, ratio)
    for i, m in enumerate(maps):
        c = lenstools.ConvergenceMap(m.astype(np.float64), angle=SIDE * u.deg)
        l_ell, theirs = c.bispectrum(edges, ratio=ratio, configuration=configuration)
        np.testing.assert_allclose(ours[i], theirs, rtol=1e-6, atol=1e-9 * np.abs(theirs).max())
    np.testing.assert_allclose(ell, l_ell)
