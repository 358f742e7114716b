"""Minkowski functionals: Gaussian fields against the Tomita formulas in LensTools' normalisation."""

import math

import numpy as np
import pytest
import torch
from helpers import gaussian_field
from scipy.special import erfc

from emubench.stats import minkowski
from emubench.stats.minkowski_functionals import gradient


@pytest.mark.parametrize("norm", [True, False])
def test_gaussian_field_matches_tomita(norm):
    maps = gaussian_field(32, 256, smooth=3.0, seed=4)  # smooth enough for finite differences, many patches per map
    nu_edges = np.linspace(-3.5, 3.5, 29)
    s0 = maps.reshape(len(maps), -1).std(1)
    gx, gy = gradient(torch.as_tensor(maps))
    s1 = np.sqrt((gx**2 + gy**2).reshape(len(maps), -1).mean(1).numpy())
    if norm:
        nu, v0, v1, v2 = minkowski(maps, nu_edges, norm=True)
        scale = s0.mean()  # norm=True: V1, V2 are σ × the standard functionals
    else:
        # unit-variance maps: κ thresholds equal ν
        maps = maps / s0[:, None, None]
        s1 = s1 / s0
        s0 = np.ones_like(s0)
        nu, v0, v1, v2 = minkowski(maps, nu_edges, norm=False)
        scale = 1.0
    r = (s1 / s0).mean()
    t0 = 0.5 * erfc(nu / math.sqrt(2))
    t1 = scale * r / (8 * math.sqrt(2)) * np.exp(-(nu**2) / 2)
    t2 = scale * r**2 / (2 * (2 * math.pi) ** 1.5) * nu * np.exp(-(nu**2) / 2)
    for got, want in ((v0.mean(0), t0), (v1.mean(0), t1), (v2.mean(0), t2)):
        assert np.max(np.abs(got - want)) < 0.02 * np.max(np.abs(want)), (got, want)


def test_v0_is_cumulative_at_midpoints_and_single_map():
    m = np.arange(16.0).reshape(4, 4)
    nu, v0, v1, v2 = minkowski(m, np.array([0.0, 4.0, 8.0, 16.0]))
    np.testing.assert_allclose(nu, [2.0, 6.0, 12.0])
    np.testing.assert_allclose(v0, [(16 - 2) / 16, (16 - 6) / 16, (16 - 12) / 16])
    assert v1.shape == (3,)


@pytest.mark.parametrize("edges", [np.linspace(-0.05, 0.1, 26), np.array([-0.05, -0.01, 0.0, 0.004, 0.1])])
def test_threshold_search_counts_boundaries_exactly(edges):
    # Equal-width edges take the arithmetic path, others the binary search: both must count, for every pixel,
    # exactly the boundaries <= κ, including pixels sitting on a boundary, NaN and ±inf.
    from emubench.stats.minkowski_functionals import _Boundaries

    rng = np.random.default_rng(0)
    sigma = torch.tensor([[1.0], [0.7], [1.3]], dtype=torch.float64)
    e = torch.as_tensor(edges)
    lo = e[None, :-1] * sigma
    mid = (e[None, :-1] + e[None, 1:]) * sigma / 2
    bounds = torch.cat([torch.stack([lo, mid], 2).reshape(3, -1), e[None, -1:] * sigma], 1)
    flat = torch.as_tensor(rng.uniform(-0.08, 0.13, (3, 4000)))
    k = bounds.shape[1]
    flat[:, :k] = bounds  # exactly on every boundary, and one ulp either side
    flat[:, k : 2 * k] = torch.nextafter(bounds, torch.tensor(-np.inf, dtype=torch.float64))
    flat[:, 2 * k : 3 * k] = torch.nextafter(bounds, torch.tensor(np.inf, dtype=torch.float64))
    flat[:, -4:] = torch.tensor([np.nan, np.inf, -np.inf, 0.0])
    where = _Boundaries(e, sigma)
    assert where.arithmetic == (len(edges) == 26)
    got = where.locate(flat, slice(0, 3))
    want = (bounds[:, None, :] <= flat[:, :, None]).sum(-1)
    want[torch.isnan(flat)] = bounds.shape[1]  # a binary search puts NaN after everything
    assert torch.equal(got, want)


def _reference_minkowski(m: np.ndarray, t: np.ndarray):
    """The LensTools definition written out pixel by pixel in numpy (docs: lenstools-conventions.md)."""
    m = m.astype(np.float64)
    gx = (np.roll(m, -1, 1) - np.roll(m, 1, 1)) / 2
    gy = (np.roll(m, -1, 0) - np.roll(m, 1, 0)) / 2
    hxx = (np.roll(gx, -1, 1) - np.roll(gx, 1, 1)) / 2
    hyy = (np.roll(gy, -1, 0) - np.roll(gy, 1, 0)) / 2
    hxy = (np.roll(gx, -1, 0) - np.roll(gx, 1, 0)) / 2
    g2 = gx**2 + gy**2
    with np.errstate(invalid="ignore", divide="ignore"):
        curv = np.where(
            g2 > 0,
            (2 * gx * gy * hxy - gx**2 * hyy - gy**2 * hxx) / g2 / (2 * np.pi),
            (2 * hxy - hxx - hyy) / (4 * np.pi),
        )
    n2 = m.size
    v0 = np.array([(m >= (a + b) / 2).mean() for a, b in zip(t[:-1], t[1:])])
    inside = [(m >= a) & (m < b) for a, b in zip(t[:-1], t[1:])]
    v1 = np.array([np.sqrt(g2)[k].sum() / 4 for k in inside]) / (n2 * np.diff(t))
    v2 = np.array([curv[k].sum() for k in inside]) / (n2 * np.diff(t))
    return v0, v1, v2


@pytest.mark.parametrize("quantise", [False, True])
def test_matches_pixel_by_pixel_definition(quantise):
    from emubench.data.lognormal import generate

    maps = generate(5, npix=64, seed=11)
    if quantise:  # plateaus where ∇κ = 0 exercise the limit of V2's integrand
        maps = (np.round(maps / 0.004) * 0.004).astype(np.float32)
    t = np.linspace(-0.04, 0.08, 25)
    _, v0, v1, v2 = minkowski(maps, t)
    for i, m in enumerate(maps):
        r0, r1, r2 = _reference_minkowski(m, t)
        np.testing.assert_array_equal(v0[i], r0)
        np.testing.assert_allclose(v1[i], r1, rtol=1e-10, atol=1e-14)
        np.testing.assert_allclose(v2[i], r2, rtol=1e-10, atol=1e-12 * np.abs(r2).max())
