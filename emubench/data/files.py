"""Real maps from files: CosmoGAN-format .npy (one or many, memory-mapped) and FITS images.

CosmoGAN files hold (N, 256, 256) or (N, 1, 256, 256) κ. All files are opened once, memory-mapped, and a
global index is mapped to (file, row) with a binary search over cumulative lengths, so a random batch costs
no file reopening and no rescanning (the thesis's loader reopened the file for every sample), and each map is
copied once, from the mapped file straight into the batch.
"""

from __future__ import annotations

import glob
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import EmubenchError
from ..io import check_maps, load_npy
from .base import MapSet

COSMOGAN_SIDE_DEG = 0.866


def expand_paths(spec: str | os.PathLike | Sequence[str | os.PathLike], suffixes: tuple[str, ...]) -> list[Path]:
    """Files named by a path, a folder (its files with ``suffixes``), a glob, or a list of those; sorted."""
    items = [spec] if isinstance(spec, (str, os.PathLike)) else list(spec)
    out: list[Path] = []
    for item in items:
        s = str(item)
        if any(ch in s for ch in "*?["):
            found = sorted(Path(p) for p in glob.glob(s))
            if not found:
                raise EmubenchError(f"{s}: pattern matches no file")
            out += found
        elif Path(s).is_dir():
            found = sorted(p for p in Path(s).iterdir() if p.suffix.lower() in suffixes)
            if not found:
                raise EmubenchError(f"{s}: folder holds no {'/'.join(suffixes)} file")
            out += found
        else:
            out.append(Path(s))
    if not out:
        raise EmubenchError("no data file given")
    return out


class MultiFileMaps:
    """Concatenation of several (N_i, H, W) memory-mapped arrays with O(1) global random access."""

    def __init__(self, arrays: list[np.ndarray], sources: list[str]):
        # plain ndarray views of the mapped files: indexing a np.memmap builds a memmap object per map, which
        # costs more than copying a 64² map
        self.arrays = [np.asarray(a) for a in arrays]
        self.sources = sources
        self.offsets = np.concatenate([[0], np.cumsum([len(a) for a in arrays])])
        self.shape = (int(self.offsets[-1]), *arrays[0].shape[1:])
        self.dtype = np.dtype(np.float32)
        self._tensors: list | None = None
        # Big maps: copy with torch on all cores (see _gather_sorted). Below ~64 KiB per map a torch call per
        # file costs more than copying the maps one by one with numpy.
        self._parallel = self.shape[1] * self.shape[2] * 4 >= 65536 and all(a.dtype == np.float32 for a in self.arrays)

    def __len__(self) -> int:
        return self.shape[0]

    def __getitem__(self, key) -> np.ndarray:
        if isinstance(key, slice) and key.step in (None, 1):
            return self._range(*key.indices(len(self))[:2])
        if isinstance(key, slice):
            key = np.arange(*key.indices(len(self)))
        idx = np.asarray(key)
        scalar = idx.ndim == 0
        idx = np.atleast_1d(idx).astype(np.int64)
        if idx.size and (idx.min() < -len(self) or idx.max() >= len(self)):
            raise IndexError(f"map index out of range for {len(self)} maps")
        idx = np.where(idx < 0, idx + len(self), idx)
        which = np.searchsorted(self.offsets, idx, side="right") - 1
        rows = idx - self.offsets[which]
        out = np.empty((len(idx), *self.shape[1:]), dtype=np.float32)
        if self._parallel and len(idx) > 1 and np.all(idx[1:] >= idx[:-1]):
            self._gather_sorted(which, rows, out)
        else:
            # One copy per map, straight from the mapped file into the batch (fancy indexing would copy twice).
            for k, (f, r) in enumerate(zip(which.tolist(), rows.tolist())):
                out[k] = self.arrays[f][r]
        return out[0] if scalar else out

    def _gather_sorted(self, which: np.ndarray, rows: np.ndarray, out: np.ndarray) -> None:
        """Increasing indices (what samplers and splits ask for): each file's maps form one block of ``out``,
        gathered by one ``torch.index_select`` per file, which copies on all cores; numpy's ``take`` uses one,
        and at 256² the copy is the whole cost of a batch."""
        import torch

        from ..stats import to_tensor  # torch is imported only when a batch is drawn

        if self._tensors is None:
            self._tensors = [to_tensor(a) for a in self.arrays]  # shares the mappings
        tout = torch.from_numpy(out)
        starts = np.flatnonzero(np.diff(which, prepend=-1))
        for lo, hi in zip(starts.tolist(), [*starts[1:].tolist(), len(which)]):
            torch.index_select(self._tensors[which[lo]], 0, torch.from_numpy(rows[lo:hi]), out=tout[lo:hi])

    def _range(self, start: int, stop: int) -> np.ndarray:
        """Maps start … stop − 1 in order: one block copy per file they span."""
        out = np.empty((max(0, stop - start), *self.shape[1:]), dtype=np.float32)
        for f, arr in enumerate(self.arrays):
            lo, hi = max(start, self.offsets[f]), min(stop, self.offsets[f + 1])
            if lo < hi:
                out[lo - start : hi - start] = arr[lo - self.offsets[f] : hi - self.offsets[f]]
        return out

    def __array__(self, dtype=None, copy=None):
        return np.asarray(self[np.arange(len(self))], dtype=dtype)


def open_npy_maps(spec: Any, side_deg: float = COSMOGAN_SIDE_DEG, *, check: bool = True, name: str = "npy") -> MapSet:
    """Open CosmoGAN-format .npy file(s) as one MapSet; every file is validated (shape, dtype, finite values)."""
    paths = expand_paths(spec, (".npy",))
    arrays, shape = [], None
    for path in paths:
        arr = check_maps(load_npy(path), str(path), check_finite=check)
        if shape is not None and arr.shape[1:] != shape:
            raise EmubenchError(
                f"{path}: maps are {arr.shape[1]}x{arr.shape[2]}, but {paths[0]} has {shape[0]}x{shape[1]}"
            )
        shape = arr.shape[1:]
        arrays.append(arr)
    maps = (
        arrays[0]
        if len(arrays) == 1 and arrays[0].dtype == np.float32
        else MultiFileMaps(arrays, [str(p) for p in paths])
    )
    return MapSet(
        maps, float(side_deg), name, {"dataset": name, "files": [str(p) for p in paths], "side_deg": float(side_deg)}
    )


def open_fits_maps(spec: Any, side_deg: float | None = None, *, name: str = "fits") -> MapSet:
    """Open FITS image(s): each primary HDU holds one (H, W) map or a (N, H, W) cube. Needs astropy.

    The map side comes from ``side_deg`` or the header keyword ``ANGLE`` (degrees, as LensTools writes it).
    """
    try:
        from astropy.io import fits
    except ImportError:
        raise EmubenchError("reading FITS maps needs astropy: pip install 'emubench[fits]'") from None
    paths = expand_paths(spec, (".fits", ".fit"))
    stacks, side = [], side_deg
    for path in paths:
        try:
            with fits.open(path, memmap=False) as hdul:
                data = np.asarray(hdul[0].data)
                header_side = hdul[0].header.get("ANGLE")
        except Exception as exc:
            raise EmubenchError(f"{path}: not a readable FITS file ({exc})") from None
        if data is None or data.ndim == 0:
            raise EmubenchError(f"{path}: primary HDU holds no image")
        if side is None and header_side is not None:
            side = float(header_side)
        stacks.append(check_maps(data.astype(np.float32, copy=False), str(path)))
    if side is None:
        raise EmubenchError(f"{paths[0]}: no map side given (--side-deg) and no ANGLE keyword in the header")
    shapes = {s.shape[1:] for s in stacks}
    if len(shapes) > 1:
        raise EmubenchError(f"FITS maps have different sizes: {sorted(shapes)}")
    return MapSet(
        np.concatenate(stacks).astype(np.float32),
        float(side),
        name,
        {"dataset": name, "files": [str(p) for p in paths], "side_deg": float(side)},
    )


class NpyDataset:
    """CosmoGAN-format .npy files: (N, 256, 256) or (N, 1, 256, 256) κ, 0.866° per side by default."""

    name = "cosmogan-npy"
    description = "CosmoGAN-format .npy file(s), a folder or a glob (option path=...; side_deg defaults to 0.866)"

    def __init__(self, path: Any = None, side_deg: float = COSMOGAN_SIDE_DEG):
        if path is None:
            raise EmubenchError(f"dataset {self.name!r} needs a path: use --data FILE_OR_FOLDER_OR_GLOB")
        self.path, self.side_deg = path, float(side_deg)

    def load(self) -> MapSet:
        return open_npy_maps(self.path, self.side_deg, name=self.name)


class FitsDataset:
    """FITS images of κ maps (one map or a cube per file); the side from --side-deg or the ANGLE keyword."""

    name = "fits"
    description = "FITS κ maps (needs astropy); side from side_deg=... or the header's ANGLE keyword"

    def __init__(self, path: Any = None, side_deg: float | None = None):
        if path is None:
            raise EmubenchError(f"dataset {self.name!r} needs a path: use --data FILE_OR_FOLDER_OR_GLOB")
        self.path, self.side_deg = path, side_deg

    def load(self) -> MapSet:
        return open_fits_maps(self.path, self.side_deg, name=self.name)
