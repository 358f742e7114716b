"""Parity with kymatio 0.3 (the 2-D scattering transform), map by map, every path at every position. Runs under
`tox -e kymatio`; skipped where kymatio is not installed (it is not a dependency of emubench)."""

import numpy as np
import pytest

kymatio = pytest.importorskip("kymatio", reason="kymatio 0.3 is only installed in the tox 'kymatio' environment")

import torch  # noqa: E402

# the 2-D frontend alone: kymatio.torch also loads its 3-D transform, which needs scipy < 1.15 (sph_harm)
from kymatio.scattering2d.frontend.torch_frontend import ScatteringTorch2D as Scattering2D  # noqa: E402

from emubench.stats import scattering_coefficients, scattering_transform  # noqa: E402
from emubench.stats.scattering import scattering_pairs  # noqa: E402


@pytest.fixture(scope="module")
def maps():
    """16 maps of the default dataset's validation split (64², κ)."""
    from emubench.data import open_dataset, split

    val = split(open_dataset("lognormal-lcdm-64"), 0)["val"]
    return np.asarray(val.get(slice(0, 16)), dtype=np.float64)


def kymatio_paths(maps: np.ndarray, J: int, L: int, dtype=torch.float64) -> np.ndarray:
    """kymatio's Scattering2D of maps: (n, paths, H/2^J, W/2^J). In float64, its filters (built in float32) cast."""
    s = Scattering2D(J=J, shape=maps.shape[-2:], L=L, max_order=2)
    if dtype == torch.float64:
        s = s.double()
    return s(torch.as_tensor(maps, dtype=dtype)).numpy()


@pytest.mark.parametrize("J, L", [(4, 8), (3, 4), (2, 8)])
def test_scattering_transform_equals_kymatio(maps, J, L):
    """Every coefficient within 1e-6 of kymatio's, relative to the largest coefficient of its path over the
    maps (a path's small values are differences of large ones); the paths in kymatio's order."""
    ours = scattering_transform(maps, J, L)
    theirs = kymatio_paths(maps, J, L)
    assert ours.shape == theirs.shape == (16, 1 + J * L + L * L * J * (J - 1) // 2, 64 // 2**J, 64 // 2**J)
    scale = np.abs(theirs).max(axis=(0, 2, 3), keepdims=True)
    worst = float(np.max(np.abs(ours - theirs) / scale))
    assert worst < 1e-6, f"largest difference {worst:.2e} of a path's largest coefficient"


def test_float32_maps_agree_with_kymatio_in_float32(maps):
    """kymatio's own precision (float32 maps, complex64 transforms): the same to float32 rounding."""
    m32 = maps.astype(np.float32)
    ours, theirs = scattering_transform(m32, 4, 8), kymatio_paths(m32, 4, 8, torch.float32)
    scale = np.abs(theirs).max(axis=(0, 2, 3), keepdims=True)
    assert ours.dtype == np.float32 and float(np.max(np.abs(ours - theirs) / scale)) < 1e-4


def test_reduced_coefficients_are_kymatio_paths_averaged(maps):
    """s1(j) and s2(j1, j2) (Cheng et al. 2020) are kymatio's paths averaged over angles and positions, within
    1e-6 relative (s0, a mean κ that can be near 0, within 1e-6 of its largest value)."""
    J, L = 4, 8
    s0, s1, s2 = scattering_coefficients(maps, J, L)
    k = kymatio_paths(maps, J, L).mean(axis=(2, 3))
    # S0's spatial mean is the map's mean κ, near 0 for some maps: within 1e-6 of its largest over the maps
    np.testing.assert_allclose(s0, k[:, 0], rtol=0, atol=1e-6 * np.abs(k[:, 0]).max())
    np.testing.assert_allclose(s1, k[:, 1 : 1 + J * L].reshape(-1, J, L).mean(2), rtol=1e-6)
    second = k[:, 1 + J * L :]
    want, i = {}, 0
    for j1 in range(J):
        for _ in range(L):
            for j2 in range(j1 + 1, J):
                want.setdefault((j1, j2), []).append(second[:, i : i + L])
                i += L
    np.testing.assert_allclose(s2, np.stack([np.concatenate(want[p], 1).mean(1) for p in scattering_pairs(J)], 1),
                               rtol=1e-6)  # fmt: skip
