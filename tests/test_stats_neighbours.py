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
    d_ref, i_ref = brute_force(queries, refs)
    np.testing.assert_array_equal(i, i_ref)
    np.testing.assert_allclose(d, d_ref, atol=1e-12)
    assert np.all(d[:20] == 0) and i[0] == 5


@pytest.mark.parametrize("dtype", SCREENS)
def test_torch_input_and_near_ties(dtype):
    rng = np.random.default_rng(1)
    refs = rng.standard_normal((50, 8, 8)).astype(np.float32)
    q = refs[:5] + 1e-3
    refs[10] = refs[0] + 1e-3 + 1e-7  # a near tie for query 0, far below bfloat16's resolution
    d, i = nearest_neighbours(torch.as_tensor(q), torch.as_tensor(refs), dtype=dtype)
    d_ref, i_ref = brute_force(q, refs)
    np.testing.assert_array_equal(i, i_ref)


@pytest.mark.parametrize("dtype", SCREENS)
def test_many_near_equal_candidates_and_float64_input(dtype):
    # 200 references at almost the same distance from every query: the screen cannot rank them, the exact
    # pass must. float64 input stays float64 in the exact pass.
    rng = np.random.default_rng(3)
    base = rng.standard_normal((16, 16))
    refs = base + 1e-6 * rng.standard_normal((200, 16, 16))
    queries = base + 1e-2 * rng.standard_normal((7, 16, 16))
    d, i = nearest_neighbours(queries, refs, dtype=dtype)
    d_ref, i_ref = brute_force(queries, refs)
    np.testing.assert_array_equal(i, i_ref)
    np.testing.assert_allclose(d, d_ref, rtol=1e-12)


def test_index_is_reusable_and_refuses_other_map_sizes():
    refs = generate(64, npix=16, seed=1)
    index = NeighbourIndex(refs, device="cpu")
    for seed in (2, 3):
        q = generate(9, npix=16, seed=seed)
        np.testing.assert_array_equal(index.query(q)[1], brute_force(q, refs)[1])
    with pytest.raises(ValueError, match="pixels"):
        index.query(generate(2, npix=32, seed=4))
    assert screen_dtype("cpu") in (torch.float32, torch.bfloat16)


def _offset_distance_brute(q, r, min_overlap=0.5):
    """Smallest RMS difference over the shared pixels, over every cyclic shift and every offset keeping
    min_overlap of them (loops)."""
    n = q.shape[0]
    best = min(
        float(np.sqrt(np.mean((q.astype(np.float64) - np.roll(r, (dy, dx), axis=(0, 1))) ** 2)))
        for dy in range(n)
        for dx in range(n)
    )
    for dy in range(-n + 1, n):
        for dx in range(-n + 1, n):
            ys, xs = slice(max(0, dy), n + min(0, dy)), slice(max(0, dx), n + min(0, dx))
            yr, xr = slice(max(0, -dy), n + min(0, -dy)), slice(max(0, -dx), n + min(0, -dx))
            a, b = q[ys, xs], r[yr, xr]
            if a.size >= min_overlap * n * n - 0.5:
                best = min(best, float(np.sqrt(np.mean((a.astype(np.float64) - b) ** 2))))
    return best


def test_shift_index_distance_equals_brute_force_over_offsets_and_symmetries():
    from emubench.data.augment import symmetry
    from emubench.stats import ShiftNeighbourIndex

    rng = np.random.default_rng(0)
    refs = rng.standard_normal((6, 12, 12)).astype(np.float32)
    queries = rng.standard_normal((3, 12, 12)).astype(np.float32)
    out = ShiftNeighbourIndex(refs, candidates=48).query(queries)  # every (reference, symmetry) pair: exhaustive
    for i, q in enumerate(queries):
        want = min(_offset_distance_brute(np.ascontiguousarray(symmetry(q, k)), r) for r in refs for k in range(8))
        assert out["distance"][i] == pytest.approx(want, rel=1e-4)


def test_shift_index_finds_translated_rotated_and_cropped_copies(small_maps):
    """Copies shifted cyclically by any offset, rotated or flipped, cut at an offset (the rest from another map),
    with noise: the source is found at the right offset and symmetry, at distance ≈ the noise."""
    from emubench.data.augment import symmetry
    from emubench.stats import ShiftNeighbourIndex, brute_force

    refs = small_maps[:200]
    sigma = refs.std()
    rng = np.random.default_rng(1)
    src = rng.choice(200, 20, replace=False)
    shifts = rng.integers(1, 64, size=(20, 2))
    copies = np.stack([np.roll(refs[s], tuple(d), axis=(0, 1)) for s, d in zip(src, shifts)])
    noisy = copies + 0.5 * sigma * rng.standard_normal(copies.shape).astype(np.float32)
    turned = np.stack([np.ascontiguousarray(symmetry(m, k)) for m, k in zip(noisy, range(20))])
    crops = np.roll(refs[src], (9, 5), axis=(1, 2)).copy()
    crops[:, :9], crops[:, :, :5] = small_maps[200:220, :9], small_maps[200:220, :, :5]
    index = ShiftNeighbourIndex(refs)
    for maps, noise in ((copies, 0.0), (noisy, 0.5), (turned, 0.5)):
        out = index.query(maps)
        assert (out["index"] == src).all()
        assert np.allclose(out["distance"], noise * sigma, rtol=0.1, atol=2e-3 * sigma)  # float32 FFT roundoff
    out = index.query(crops)  # the fingerprint of a crop only nearly matches: most, not all, are found
    found = out["index"] == src
    assert found.mean() >= 0.9 and np.allclose(out["distance"][found], 0, atol=2e-3 * sigma)
    plain, _ = brute_force(copies, refs)
    assert (plain / 64 > 0.5 * sigma).all()  # what a search without translations sees: no copy at all
