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


@pytest.mark.slow
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


def _square_distance_brute(q: np.ndarray, r: np.ndarray, shift: tuple[int, int]) -> float:
    """The smallest RMS difference over the (n/2)² squares inside q of q(y) − r(y + shift mod n), in float64."""
    n, w = q.shape[-1], q.shape[-1] // 2
    e = (q.astype(np.float64) - np.roll(r, (-shift[0], -shift[1]), axis=(0, 1))) ** 2
    return min(float(np.sqrt(e[a : a + w, b : b + w].mean())) for a in range(n - w + 1) for b in range(n - w + 1))


def test_patch_index_distance_is_the_best_square_at_the_alignment_it_reports():
    """Every candidate's distance is the brute-force smallest RMS over the squares of σq at its reported shift
    and symmetry (so a reported distance is never below the true one); and with every reference a candidate,
    the nearest is no farther than brute force over all shifts of the whole map allows plus the alignment step
    (a planted region copy sits at 0 with its shift, symmetry and corner)."""
    from emubench.data.augment import symmetry
    from emubench.metrics.memorisation import inverse_symmetry
    from emubench.stats import PatchNeighbourIndex

    rng = np.random.default_rng(0)
    refs = rng.standard_normal((30, 16, 16)).astype(np.float32)
    queries = rng.standard_normal((4, 16, 16)).astype(np.float32)
    # query 0: under symmetry 5, its 8² square at (6, 2) is reference 7's square at (3, 5)
    sq0 = np.ascontiguousarray(symmetry(queries[0], 5))
    sq0[6:14, 2:10] = refs[7, 3:11, 5:13]
    queries[0] = symmetry(sq0, inverse_symmetry(5))
    out = PatchNeighbourIndex(refs, map_candidates=30, window_candidates=30).query_candidates(queries)
    for i, q in enumerate(queries):
        for c in range(0, out["distance"].shape[1], 7):
            sq = np.ascontiguousarray(symmetry(q, int(out["symmetry"][i, c])))
            shift = tuple(-out["offset"][i, c])  # r[y] faces σq[y + offset]: σq(y) faces r(y − offset)
            want = _square_distance_brute(sq, refs[out["index"][i, c]], shift)
            assert out["distance"][i, c] == pytest.approx(want, rel=1e-4, abs=1e-5)
    j = out["distance"][0].argmin()
    assert out["index"][0, j] == 7 and out["distance"][0, j] < 1e-5
    assert tuple(out["corner"][0, j]) == (6, 2) and tuple(out["offset"][0, j]) == (3, -3)
    assert out["symmetry"][0, j] in (5, 7)  # 7 = 5 turned by 180°: |F| cannot tell them apart, the shift can
    sq = symmetry(queries[0], int(out["symmetry"][0, j]))
    assert np.allclose(sq[6:14, 2:10], refs[7, 3:11, 5:13]) or out["symmetry"][0, j] == 5


@pytest.mark.slow
def test_patch_index_finds_patchworks_pasted_crops_and_noisy_copies(small_maps):
    """Maps stitched from quadrants of 4 references (each shifted and turned), fresh maps with a 32² reference
    crop pasted at a random place under a random symmetry, and whole shifted copies with 0.5 σ_κ of noise:
    the nearest reference is a source at ~0 (the noise for whole copies) for nearly all of them; plain maps
    are far from everything."""
    from emubench.data.augment import symmetry
    from emubench.stats import PatchNeighbourIndex

    refs, fresh = small_maps[:200], small_maps[200:240]
    sigma = refs.std()
    rng = np.random.default_rng(2)
    patch = np.empty_like(fresh)
    patch_src = rng.integers(0, 200, (40, 4))
    for i in range(40):
        for j, (a, b) in enumerate(((0, 0), (0, 32), (32, 0), (32, 32))):
            moved = symmetry(np.roll(refs[patch_src[i, j]], tuple(rng.integers(0, 64, 2)), axis=(0, 1)), j + i % 2)
            patch[i, a : a + 32, b : b + 32] = moved[a : a + 32, b : b + 32]
    paste, paste_src = fresh.copy(), rng.integers(0, 200, 40)
    for i in range(40):
        (oy, ox), (py, px) = rng.integers(0, 33, 2), rng.integers(0, 33, 2)
        paste[i, py : py + 32, px : px + 32] = symmetry(refs[paste_src[i], oy : oy + 32, ox : ox + 32], i % 8)
    copy_src = rng.choice(200, 40, replace=False)
    noisy = np.roll(refs[copy_src], (5, 9), axis=(1, 2)) + 0.5 * sigma * rng.standard_normal(fresh.shape)
    index = PatchNeighbourIndex(refs)
    out = index.query(patch)
    hit = (out["index"][:, None] == patch_src).any(1) & (out["distance"] < 1e-3 * sigma)
    assert hit.mean() >= 0.9, hit.mean()
    out = index.query(paste)
    hit = (out["index"] == paste_src) & (out["distance"] < 1e-3 * sigma)
    assert hit.mean() >= 0.7, hit.mean()
    out = index.query(noisy.astype(np.float32))
    assert (out["index"] == copy_src).all() and np.allclose(out["distance"], 0.5 * sigma, rtol=0.15)
    assert (index.query(fresh)["distance"] > 0.5 * sigma).all()
