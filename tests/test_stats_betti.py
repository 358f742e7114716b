"""Betti numbers of excursion sets: known shapes by hand, and gudhi's cubical complexes map by map."""

import numpy as np
import pytest
import torch

from emubench.stats import betti_numbers


def _one(pattern: str) -> tuple[int, int]:
    """(β0, β1) of the '#' pixels of a drawing, at a threshold between 0 and 1."""
    m = np.array([[c == "#" for c in line] for line in pattern.strip().split()], dtype=np.float64)
    _, b0, b1 = betti_numbers(m, [0.5])
    return int(b0[0]), int(b1[0])


@pytest.mark.parametrize(
    "pattern,expected",
    [
        ("..... .##.. .##.. ..... .....", (1, 0)),  # a square
        ("#.... .#... ..... ...## ...##", (2, 0)),  # two pixels touching at a corner are one region
        ("..... .###. .#.#. .###. .....", (1, 1)),  # a ring
        ("..... .##.. .#.#. ..##. .....", (1, 1)),  # a ring closed at corners: the hole's pixel cannot leave it
        (".###. ##.## #...# ##.## .###.", (1, 1)),  # a ring whose hole is 4-connected but closed at corners
        ("###.... #.#.... ###.... ....... ..###.. ..#.#.. ..#.#..", (2, 1)),  # a ring; a U open to the border
        ("##### ##### ##### ##### #####", (1, 0)),  # the whole map
        ("..... ..... ..... ..... .....", (0, 0)),  # nothing
    ],
)
def test_shapes_drawn_by_hand(pattern, expected):
    assert _one(pattern) == expected


def test_torch_input_single_map_and_bad_thresholds(small_maps):
    thresholds = np.array([-0.01, 0.0, 0.02])
    _, b0, b1 = betti_numbers(small_maps[:3], thresholds)
    _, t0, t1 = betti_numbers(torch.as_tensor(small_maps[:3]), thresholds)
    assert isinstance(t0, torch.Tensor) and np.array_equal(t0.numpy(), b0) and np.array_equal(t1.numpy(), b1)
    _, s0, _ = betti_numbers(small_maps[1], thresholds)
    assert np.array_equal(s0, b0[1])
    with pytest.raises(ValueError, match="increasing"):
        betti_numbers(small_maps[:2], [0.1, 0.0])


@pytest.mark.slow
def test_equal_to_gudhi_on_16_maps_of_the_default_dataset(small_maps):
    """gudhi's CubicalComplex of −κ (pixels as top cells, sublevel sets of −κ = superlevel sets of κ): at each
    threshold t the classes born at or below −t that die above it. Identical counts on 16 maps of the default
    dataset at 25 thresholds over ν ∈ [−2, 4] σ and at thresholds equal to pixel values (ties), and on the same
    maps rounded to steps of 0.004 κ (plateaus)."""
    gudhi = pytest.importorskip("gudhi")

    def reference(m: np.ndarray, thresholds: np.ndarray) -> np.ndarray:
        cc = gudhi.CubicalComplex(top_dimensional_cells=-m.astype(np.float64))
        cc.compute_persistence(homology_coeff_field=2, min_persistence=-1)
        out = np.zeros((2, len(thresholds)))
        for d in (0, 1):
            pairs = cc.persistence_intervals_in_dimension(d)
            for k, t in enumerate(thresholds):
                out[d, k] = np.sum((pairs[:, 0] <= -t) & (pairs[:, 1] > -t))
        return out

    maps = small_maps[:16].astype(np.float64)
    for m_set in (maps, np.round(maps / 0.004) * 0.004):
        sigma = m_set.std()
        grid = np.linspace(-2.0, 4.0, 25) * sigma
        for i, m in enumerate(m_set):
            ties = np.unique(np.concatenate([grid, np.sort(m.ravel())[::400]]))
            _, b0, b1 = betti_numbers(m, ties)
            assert np.array_equal(np.stack([b0, b1]), reference(m, ties)), i


def test_maps_wholly_in_the_set_beside_others_count_as_one_region(small_maps):
    """Maps entirely above a threshold are one region without holes (β0 = 1, β1 = 0); in a stack that mixes them
    with other maps every map gets what it gets alone."""
    maps = small_maps[:6].astype(np.float64).copy()
    maps[[1, 4]] = maps[[1, 4]] - maps[[1, 4]].min() + 1.0  # wholly above 0.5
    thresholds = np.array([-0.02, 0.0, 0.5, 2.0])
    _, b0, b1 = betti_numbers(maps, thresholds)
    alone = [betti_numbers(m, thresholds) for m in maps]
    assert np.array_equal(b0, np.stack([a[1] for a in alone])) and np.array_equal(b1, np.stack([a[2] for a in alone]))
    assert np.all(b0[[1, 4], 2] == 1) and np.all(b1[[1, 4], 2] == 0) and np.all(b0[[0, 2, 3, 5], 1] > 1)


def _labelled(m: np.ndarray, level: float) -> tuple[int, int]:
    """(β0, β1) of {m ≥ level} the slow way: 8-connected labelling, and χ = V − E + F counted square by square."""
    from scipy import ndimage

    mask = m >= level
    b0 = ndimage.label(mask, structure=np.ones((3, 3)))[1]
    rows, cols = np.nonzero(mask)
    vertices = {(r + dr, c + dc) for r, c in zip(rows, cols) for dr in (0, 1) for dc in (0, 1)}
    edges = {e for r, c in zip(rows, cols) for e in (("h", r, c), ("h", r + 1, c), ("v", r, c), ("v", r, c + 1))}
    return b0, b0 - (len(vertices) - len(edges) + len(rows))


def test_every_arrangement_of_neighbours_against_labelling():
    """Maps of 3 values on 12 × 12 pixels hold every arrangement of a pixel's neighbours many times over (and ties,
    NaN and plateaus): the sweep's counts equal labelling each excursion set, in one thread and in two."""
    rng = np.random.default_rng(0)
    maps = rng.integers(0, 3, size=(200, 12, 12)).astype(np.float64)
    maps[rng.random(maps.shape) < 0.02] = np.nan  # never in the set
    levels = np.array([0.5, 1.0, 1.5, 2.0])
    expected = np.array([[_labelled(m, t) for t in levels] for m in maps])  # (200, 4, 2)
    before = torch.get_num_threads()
    try:
        for threads in (1, 2):
            torch.set_num_threads(threads)
            _, b0, b1 = betti_numbers(maps, levels)
            assert np.array_equal(np.stack([b0, b1], -1), expected), threads
    finally:
        torch.set_num_threads(before)
