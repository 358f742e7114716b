"""Pixel transforms (round trips) and the 8 symmetries of the square."""

import numpy as np
import pytest
import torch

from emubench.data.augment import all_symmetries, random_symmetries, symmetry
from emubench.data.transforms import TRANSFORMS, get_transform
from emubench.errors import EmubenchError


@pytest.mark.parametrize("name, kwargs", [("identity", {}), ("cosmogan", {}), ("cosmogan", {"a": 0.02, "shift": 0.04})])
def test_round_trip_numpy_and_torch(name, kwargs):
    t = get_transform(name, **kwargs)
    x = np.random.default_rng(0).uniform(-0.03, 0.5, (4, 8, 8))
    np.testing.assert_allclose(t.inverse(t.forward(x)), x, rtol=1e-10, atol=1e-12)
    xt = torch.as_tensor(x)
    torch.testing.assert_close(t.inverse(t.forward(xt)), xt)


def test_cosmogan_matches_paper_formula():
    t = get_transform("cosmogan")
    x = np.array([0.0, 4.0, 12.0])
    np.testing.assert_allclose(t.forward(x), 2 * x / (x + 4) - 1)
    np.testing.assert_allclose(
        t.inverse(np.array([-1.0, 0.0, 0.5])), 4 * (1 + np.array([-1.0, 0.0, 0.5])) / (1 - np.array([-1.0, 0.0, 0.5]))
    )


def test_unknown_transform():
    assert set(TRANSFORMS) == {"identity", "cosmogan"}
    with pytest.raises(EmubenchError, match="unknown pixel transform 'log'"):
        get_transform("log")


def test_eight_distinct_symmetries_numpy_and_torch_agree():
    x = np.arange(16.0).reshape(4, 4)
    images = all_symmetries(x)
    assert len({im.tobytes() for im in map(np.ascontiguousarray, images)}) == 8
    for k in range(8):
        np.testing.assert_array_equal(symmetry(torch.as_tensor(x), k).numpy(), images[k])


def test_random_symmetries_batch():
    x = torch.arange(16.0).reshape(1, 1, 4, 4).repeat(64, 1, 1, 1)
    out = random_symmetries(x, torch.Generator().manual_seed(0))
    seen = {tuple(m.flatten().tolist()) for m in out}
    assert len(seen) == 8  # 64 draws hit all 8 symmetries
    valid = {tuple(np.ascontiguousarray(s).flatten().tolist()) for s in all_symmetries(x[0, 0].numpy())}
    assert seen <= valid
