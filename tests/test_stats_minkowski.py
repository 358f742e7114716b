"""Minkowski functionals: Gaussian fields against the Tomita formulas in LensTools' normalisation."""

import math

import numpy as np
import pytest
import torch
from scipy.special import erfc

from helpers import gaussian_field
from emubench.stats import minkowski
from emubench.stats.minkowski import gradient


@pytest.mark.parametrize("norm", [True, False])
def test_gaussian_field_matches_tomita(norm):
    maps = gaussian_field(32, 256, smooth=3.0, seed=4)  # smooth enough for finite differences, many patches per map
    nu_edges = np.linspace(-3.5, 3.5, 29)
    s0 = maps.reshape(len(maps), -1).std(1)
    gx, gy = gradient(torch.as_tensor(maps))
    s1 = np.sqrt((gx**2 + gy**2).reshape(len(maps), -1).mean(1).numpy())
    if norm:
        nu, v0, v1, v2 = minkowski(maps, nu_edges, norm=True)
        scale = s0.mean()            # norm=True: V1, V2 are σ × the standard functionals
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
