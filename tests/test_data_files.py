"""CosmoGAN .npy and FITS loaders: shapes, multi-file random access, and bad input refused in one line."""

import numpy as np
import pytest

from emubench.data import open_dataset, split, split_indices
from emubench.data.files import MultiFileMaps, open_npy_maps
from emubench.errors import EmubenchError


def _files(tmp_path, sizes, shape4=False, npix=16):
    rng = np.random.default_rng(0)
    arrays = []
    for i, n in enumerate(sizes):
        a = rng.standard_normal((n, 1, npix, npix) if shape4 else (n, npix, npix)).astype(np.float32)
        np.save(tmp_path / f"maps_{i}.npy", a)
        arrays.append(a.reshape(n, npix, npix))
    return np.concatenate(arrays)


def test_multi_file_random_access_matches_concatenation(tmp_path):
    full = _files(tmp_path, [5, 7, 3], shape4=True)
    ms = open_npy_maps(tmp_path / "maps_*.npy", side_deg=0.5)
    assert isinstance(ms.maps, MultiFileMaps) and len(ms) == 15 and ms.side_deg == 0.5
    idx = np.array([14, 0, 6, 5, 12, 6])
    np.testing.assert_array_equal(ms.get(idx), full[idx])
    np.testing.assert_array_equal(open_npy_maps(tmp_path).get(slice(3, 9)), full[3:9])  # a folder works too
    assert ms.get(idx).dtype == np.float32


@pytest.mark.parametrize("npix", [16, 128])  # 128² maps (64 KiB) are copied by torch, per file, on all cores
def test_multi_file_batches_and_split_views_match_concatenation(tmp_path, npix):
    full = _files(tmp_path, [5, 7, 3, 6], npix=npix)
    ms = open_npy_maps(tmp_path)
    for idx in ([0, 4, 5, 11, 12, 14, 15, 20], [2, 2, 3, 9], [-1, 3, 3, 17], [20, 0, 13, 6], [12]):
        np.testing.assert_array_equal(ms.get(np.array(idx)), full[idx], err_msg=str(idx))
    parts = split(ms, seed=3)
    for name, view in parts.items():
        sel = split_indices(len(ms), 3)[name]
        np.testing.assert_array_equal(view.get(np.arange(len(view))), full[sel])
        np.testing.assert_array_equal(view.get(np.array([2, 0, 1])), full[sel[[2, 0, 1]]])  # unsorted order kept


def test_open_dataset_dispatch_and_split(tmp_path):
    full = _files(tmp_path, [20])
    ms = open_dataset(data=[str(tmp_path / "maps_0.npy")])
    assert ms.name == "cosmogan-npy" and ms.side_deg == 0.866
    parts = split(ms, seed=3)
    assert [len(parts[k]) for k in ("train", "val", "test")] == [14, 3, 3]
    np.testing.assert_array_equal(parts["val"].get(slice(0, 3)), full[split_indices(20, 3)["val"]])


def test_split_is_deterministic_disjoint_and_complete():
    a, b = split_indices(1000, 7), split_indices(1000, 7)
    assert all(np.array_equal(a[k], b[k]) for k in a)
    assert len(a["val"]) == len(a["test"]) == 150 and len(a["train"]) == 700
    assert len(np.unique(np.concatenate(list(a.values())))) == 1000
    assert not np.array_equal(split_indices(1000, 8)["val"], a["val"])


@pytest.mark.parametrize(
    "array, message",
    [
        (np.full((2, 16, 16), np.nan, np.float32), "map 0 contains NaN or Inf"),
        (np.stack([np.zeros((16, 16)), np.full((16, 16), np.inf)]).astype(np.float32), "map 1 contains NaN or Inf"),
        (np.zeros((2, 16, 8), np.float32), "not square"),
        (np.zeros((2, 3, 16, 16), np.float32), "is not \\(N, H, W\\)"),
        (np.zeros((2, 16, 16), np.int32), "integer dtype"),
        (np.zeros((0, 16, 16), np.float32), "holds no maps"),
        (np.array(["a", "b"]), "cannot be read as maps"),
    ],
)
def test_bad_arrays_are_refused(tmp_path, array, message):
    path = tmp_path / "bad.npy"
    np.save(path, array)
    with pytest.raises(EmubenchError, match=message) as err:
        open_npy_maps(path)
    assert "bad.npy" in str(err.value) and "\n" not in str(err.value)


def test_pickled_object_array_truncated_and_empty_files(tmp_path):
    obj = tmp_path / "obj.npy"
    np.save(obj, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(EmubenchError, match="Python objects"):
        open_npy_maps(obj)
    good = tmp_path / "good.npy"
    np.save(good, np.zeros((4, 16, 16), np.float32))
    trunc = tmp_path / "trunc.npy"
    trunc.write_bytes(good.read_bytes()[:300])
    with pytest.raises(EmubenchError, match="trunc.npy"):
        open_npy_maps(trunc)
    empty = tmp_path / "empty.npy"
    empty.write_bytes(b"")
    with pytest.raises(EmubenchError, match="empty file"):
        open_npy_maps(empty)
    with pytest.raises(EmubenchError, match="no such file"):
        open_npy_maps(tmp_path / "missing.npy")
    with pytest.raises(EmubenchError, match="pattern matches no file"):
        open_npy_maps(tmp_path / "nothing*.npy")


def test_mismatched_map_sizes_across_files(tmp_path):
    np.save(tmp_path / "a.npy", np.zeros((2, 16, 16), np.float32))
    np.save(tmp_path / "b.npy", np.zeros((2, 32, 32), np.float32))
    with pytest.raises(EmubenchError, match="b.npy: maps are 32x32"):
        open_npy_maps(tmp_path)


def test_split_larger_than_dataset(tmp_path):
    np.save(tmp_path / "a.npy", np.zeros((20, 16, 16), np.float32))
    ms = split(open_npy_maps(tmp_path / "a.npy"))["val"]
    with pytest.raises(EmubenchError, match="asked for 10 maps but only 3 exist"):
        ms.head(10)


def test_fits_maps(tmp_path):
    fits = pytest.importorskip("astropy.io.fits", reason="FITS support needs astropy (pip install 'emubench[fits]')")
    rng = np.random.default_rng(1)
    m = rng.standard_normal((16, 16)).astype(np.float32)
    hdu = fits.PrimaryHDU(m)
    hdu.header["ANGLE"] = 3.5
    hdu.writeto(tmp_path / "map.fits")
    ms = open_dataset(data=[str(tmp_path / "map.fits")])
    assert ms.name == "fits" and ms.side_deg == 3.5
    np.testing.assert_array_equal(ms.get(0)[0], m)
    (tmp_path / "bad.fits").write_bytes(b"not a fits file at all")
    with pytest.raises(EmubenchError, match="bad.fits: not a readable FITS file"):
        open_dataset(data=[str(tmp_path / "bad.fits")])
