"""Exact nearest neighbours: identical to a float64 brute force, duplicates and near ties included,
whichever dtype screens the candidates."""

import numpy as np
import pytest
import torch

from emubench.data.lognormal import generate
from emubench.stats import NeighbourIndex, brute_force, nearest_neighbours, screen_dtype

SCREENS = [torch.float32, torch.bfloat16]


@pytest.mark.parametrize("dtype", SCREENS)
def test_matches_brute_force_with_exact_duplicates(dtype):
    maps = generate(700, npix=32, seed=8)
    refs = maps[100:]
    queries = maps[:100].copy()
    queries[:20] = refs[[5, 50, 500, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23]]  # memorised maps
    queries[20:30] += 1e-4 * refs[:10]
    d, i = nearest_neighbours(queries, refs, chunk=37, dtype=dtype)
    D, I = brute_force(queries, refs)
    np.testing.assert_array_equal(i, I)
    np.testing.assert_allclose(d, D, atol=1e-12)
    assert np.all(d[:20] == 0) and i[0] == 5


@pytest.mark.parametrize("dtype", SCREENS)
def test_torch_input_and_near_ties(dtype):
    rng = np.random.default_rng(1)
    refs = rng.standard_normal((50, 8, 8)).astype(np.float32)
    q = refs[:5] + 1e-3
    refs[10] = refs[0] + 1e-3 + 1e-7  # a near tie for query 0, far below bfloat16's resolution
    d, i = nearest_neighbours(torch.as_tensor(q), torch.as_tensor(refs), dtype=dtype)
    D, I = brute_force(q, refs)
    np.testing.assert_array_equal(i, I)


@pytest.mark.parametrize("dtype", SCREENS)
def test_many_near_equal_candidates_and_float64_input(dtype):
    # 200 references at almost the same distance from every query: the screen cannot rank them, the exact
    # pass must. float64 input stays float64 in the exact pass.
    rng = np.random.default_rng(3)
    base = rng.standard_normal((16, 16))
    refs = base + 1e-6 * rng.standard_normal((200, 16, 16))
    queries = base + 1e-2 * rng.standard_normal((7, 16, 16))
    d, i = nearest_neighbours(queries, refs, dtype=dtype)
    D, I = brute_force(queries, refs)
    np.testing.assert_array_equal(i, I)
    np.testing.assert_allclose(d, D, rtol=1e-12)


def test_index_is_reusable_and_refuses_other_map_sizes():
    refs = generate(64, npix=16, seed=1)
    index = NeighbourIndex(refs, device="cpu")
    for seed in (2, 3):
        q = generate(9, npix=16, seed=seed)
        np.testing.assert_array_equal(index.query(q)[1], brute_force(q, refs)[1])
    with pytest.raises(ValueError, match="pixels"):
        index.query(generate(2, npix=32, seed=4))
    assert screen_dtype("cpu") in (torch.float32, torch.bfloat16)
