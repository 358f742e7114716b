"""Exact nearest neighbours: identical to a float64 brute force, duplicates included."""

import numpy as np
import torch

from emubench.data.lognormal import generate
from emubench.stats import brute_force, nearest_neighbours


def test_matches_brute_force_with_exact_duplicates():
    maps = generate(700, npix=32, seed=8)
    refs = maps[100:]
    queries = maps[:100].copy()
    queries[:20] = refs[[5, 50, 500, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23]]  # memorised maps
    queries[20:30] += 1e-4 * refs[:10]
    d, i = nearest_neighbours(queries, refs, chunk=37)
    D, I = brute_force(queries, refs)
    np.testing.assert_array_equal(i, I)
    np.testing.assert_allclose(d, D, atol=1e-12)
    assert np.all(d[:20] == 0) and i[0] == 5


def test_torch_input_and_near_ties():
    rng = np.random.default_rng(1)
    refs = rng.standard_normal((50, 8, 8)).astype(np.float32)
    q = refs[:5] + 1e-3
    refs[10] = refs[0] + 1e-3 + 1e-7  # a near tie for query 0
    d, i = nearest_neighbours(torch.as_tensor(q), torch.as_tensor(refs))
    D, I = brute_force(q, refs)
    np.testing.assert_array_equal(i, I)
