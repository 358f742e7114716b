"""Datasets, map sets and the train/validation/test split.

A dataset plugin is a class with a ``name``, a ``description``, keyword options, and a ``load()`` that
returns a ``MapSet``: an (N, H, W) float32 array-like with O(1) random access (usually memory-mapped)
and the map side in degrees, which every statistic in ℓ needs.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import EmubenchError
from ..manifest import HASH_VERSIONS

SPLITS = ("train", "val", "test")
SPLIT_FRACTIONS = (0.70, 0.15, 0.15)
HASH_VERSION = 2  # MapSet.content_hash: 2 = every map; 1 = the first and last 32 maps (manifests before it)
HASH_CHUNK = 256  # maps read at a time by the content hash


@dataclass
class MapSet:
    """Maps with their geometry.

    maps: (N, H, W) array-like (numpy array, memmap or ``MultiFileMaps``) of κ;
    side_deg: side of each map in degrees; name: where they came from; meta: provenance for manifests;
    fresh: for datasets made by a generator, ``fresh(n_maps, seed) -> (n_maps, H, W) float32`` draws new,
    independent maps of the same distribution that are in no split (scoring calibrates its verdicts on them);
    None for files of real maps. A dataset over several cosmologies takes ``params=`` (one parameter vector)
    as well: ``fresh(n_maps, seed, params=θ)``.
    params: for maps made at several cosmologies, (N, P) float64, each map's parameters, named by
    ``param_names`` (e.g. ("omega_m", "sigma8")); None for maps of one cosmology. ``meta["heldout_params"]``
    (a list of parameter vectors) names cosmologies kept out of training (see ``split``).
    """

    maps: Any
    side_deg: float
    name: str
    meta: dict[str, Any] = field(default_factory=dict)
    fresh: Callable[..., np.ndarray] | None = None
    params: np.ndarray | None = None
    param_names: tuple[str, ...] = ()
    _hashes: dict[int, str] = field(default_factory=dict, repr=False, compare=False)  # content_hash, per version

    def __post_init__(self) -> None:
        if self.params is not None:
            self.params = np.asarray(self.params, dtype=np.float64)
            if self.params.shape != (len(self.maps), len(self.param_names)):
                raise EmubenchError(
                    f"{self.name}: params have shape {self.params.shape}, expected ({len(self.maps)}, "
                    f"{len(self.param_names)}) for parameters {self.param_names}"
                )

    def __len__(self) -> int:
        return len(self.maps)

    @property
    def npix(self) -> int:
        """Pixels on a side of each (square) map."""
        return int(self.maps.shape[-1])

    def get(self, index) -> np.ndarray:
        """Maps at ``index`` (int, slice or integer array) as float32 numpy, (k, H, W)."""
        if isinstance(index, (int, np.integer)):
            index = [int(index)]
        return np.asarray(self.maps[index], dtype=np.float32)

    def head(self, n: int) -> np.ndarray:
        """The first ``n`` maps as float32 (an error if fewer exist)."""
        if n > len(self):
            raise EmubenchError(f"{self.name}: asked for {n} maps but only {len(self)} exist")
        return self.get(slice(0, n))

    def subset(self, index: np.ndarray, name: str | None = None) -> MapSet:
        """The maps at ``index`` (integer array) as a MapSet with the same geometry, generator and parameters; no
        copy (an index into these maps)."""
        index = np.asarray(index)
        params = None if self.params is None else self.params[index]
        return MapSet(
            IndexedMaps(self.maps, index),
            self.side_deg,
            name or self.name,
            dict(self.meta),
            self.fresh,
            params,
            self.param_names,
        )

    def cosmologies(self) -> np.ndarray:
        """The distinct parameter vectors of the maps, (K, P), sorted; empty (0, 0) for one cosmology."""
        if self.params is None:
            return np.zeros((0, 0))
        return np.unique(self.params, axis=0)

    def is_heldout(self, params: Sequence[float]) -> bool:
        """Whether parameters ``params`` (one vector) are one of the cosmologies ``meta["heldout_params"]`` keeps
        out of training."""
        heldout = np.asarray(self.meta.get("heldout_params") or [], dtype=np.float64).reshape(-1, len(params))
        return bool(np.isclose(heldout, np.asarray(params, dtype=np.float64), rtol=0, atol=1e-9).all(axis=1).any())

    def at(self, params: Sequence[float]) -> MapSet:
        """The maps made at parameters ``params`` (one vector), with ``fresh`` drawing at those parameters."""
        if self.params is None:
            raise EmubenchError(f"{self.name}: maps of one cosmology have no parameters to select by")
        theta = np.asarray(params, dtype=np.float64)
        index = np.flatnonzero(np.all(np.isclose(self.params, theta, rtol=0, atol=1e-9), axis=1))
        if not len(index):
            have = ", ".join(_fmt_params(self.param_names, p) for p in self.cosmologies())
            raise EmubenchError(f"{self.name}: no maps at {_fmt_params(self.param_names, theta)} (there are: {have})")
        label = _fmt_params(self.param_names, theta)
        out = self.subset(index, f"{self.name}@{label}")
        base = self.fresh
        out.fresh = None if base is None else (lambda n_maps, seed=0: base(n_maps, seed, params=theta))
        return out

    def of_cosmology(self, params: Sequence[float] | None) -> MapSet | None:
        """The maps at ``params`` (one vector) when these span several cosmologies, None when none is at it; the
        maps themselves when they carry no parameters, hold only that cosmology, or ``params`` is None."""
        if self.params is None or params is None:
            return self
        here = np.all(np.isclose(self.params, np.asarray(params, dtype=np.float64), rtol=0, atol=1e-9), axis=1)
        if here.all():
            return self
        return self.at(params) if here.any() else None

    def content_hash(self, version: int | None = None) -> str:
        """A short hash of shape, side, every map's parameters (where given) and every map's float32 κ, read
        ``HASH_CHUNK`` maps at a time (memory-mapped files are streamed, never loaded whole): a change to any one
        map changes it. ``version`` 1 is the hash of manifests written before version 2 (the first and last 32
        maps only), kept so that those runs still check against their data. Computed once per map set."""
        version = HASH_VERSION if version is None else int(version)
        if version not in HASH_VERSIONS:
            raise EmubenchError(f"{self.name}: unknown content hash version {version} (this emubench knows 1 and 2)")
        if version not in self._hashes:
            h = hashlib.sha256(f"{self.maps.shape}|{self.side_deg}".encode())
            if self.params is not None:
                h.update(f"{self.param_names}".encode() + np.ascontiguousarray(self.params).tobytes())
            n = len(self)
            if version == 1:
                for i in sorted({*range(min(n, 32)), *range(max(0, n - 32), n)}):
                    h.update(np.ascontiguousarray(self.get(i)).tobytes())
            else:
                for s in range(0, n, HASH_CHUNK):  # the array's own buffer: no copy (tobytes doubled the time)
                    h.update(np.ascontiguousarray(self.get(slice(s, min(n, s + HASH_CHUNK)))))
            self._hashes[version] = h.hexdigest()[:16]
        return self._hashes[version]


class IndexedMaps:
    """A view of an array-like through an index array (for splits), without copying."""

    def __init__(self, base: Any, index: np.ndarray):
        self.base = base
        self.index = index
        self.shape = (len(index), *base.shape[1:])
        self.dtype = np.dtype(np.float32)

    def __len__(self) -> int:
        return len(self.index)

    def __getitem__(self, key):
        sel = self.index[key]
        if np.ndim(sel) == 0:
            return np.asarray(self.base[int(sel)])
        if np.all(sel[1:] >= sel[:-1]):  # what samplers ask for: split indices are sorted, so is a sorted batch
            return np.asarray(self.base[sel])
        # memmaps read fastest in increasing order; restore the caller's order afterwards.
        order = np.argsort(sel, kind="stable")
        out = np.asarray(self.base[sel[order]])
        res = np.empty_like(out)
        res[order] = out
        return res

    def __array__(self, dtype=None, copy=None):
        return np.asarray(self[np.arange(len(self))], dtype=dtype)


def split_indices(n: int, seed: int, fractions: Sequence[float] = SPLIT_FRACTIONS) -> dict[str, np.ndarray]:
    """Deterministic 70/15/15 train/val/test partition of range(n), sorted within each split.

    val and test get the same size so that real-vs-real noise floors compare equal numbers of maps.
    """
    if n < 3:
        raise EmubenchError(f"a dataset of {n} maps is too small to split into train/val/test")
    perm = np.random.default_rng(seed).permutation(n)
    n_hold = max(1, int(round(n * fractions[1])))
    n_train = n - 2 * n_hold
    if n_train < 1:
        raise EmubenchError(f"a dataset of {n} maps is too small to split into train/val/test")
    parts = {"train": perm[:n_train], "val": perm[n_train : n_train + n_hold], "test": perm[n_train + n_hold :]}
    return {k: np.sort(v) for k, v in parts.items()}


def refuse_unknown_options(dataset: str, options: dict, defaults: dict) -> None:
    """A one-line error naming options a dataset does not know, and those it does."""
    unknown = set(options) - set(defaults)
    if unknown:
        raise EmubenchError(
            f"dataset {dataset!r}: unknown option(s) {', '.join(sorted(unknown))} (known: {', '.join(defaults)})"
        )


def _fmt_params(names: Sequence[str], values: Sequence[float]) -> str:
    return ",".join(f"{k}={float(v):g}" for k, v in zip(names, values))


def cosmology_split_indices(mapset: MapSet, seed: int) -> dict[str, np.ndarray]:
    """For maps at several cosmologies: each training cosmology's maps split 70/15/15 like ``split_indices``,
    each held-out cosmology's (``meta["heldout_params"]``) half to val and half to test, none to train."""
    parts: dict[str, list[np.ndarray]] = {k: [] for k in SPLITS}
    for i, theta in enumerate(mapset.cosmologies()):
        index = np.flatnonzero(np.all(mapset.params == theta, axis=1))
        if mapset.is_heldout(theta):
            if len(index) < 2:
                raise EmubenchError(f"{mapset.name}: a held-out cosmology needs at least 2 maps")
            perm = np.random.default_rng([seed, i]).permutation(index)
            parts["val"].append(perm[: len(perm) // 2])
            parts["test"].append(perm[len(perm) // 2 : 2 * (len(perm) // 2)])
        else:
            for k, v in split_indices(len(index), seed + 7919 * i).items():
                parts[k].append(index[v])
    return {k: np.sort(np.concatenate(v)) if v else np.zeros(0, int) for k, v in parts.items()}


def split(mapset: MapSet, seed: int = 0) -> dict[str, MapSet]:
    """train/val/test ``MapSet`` views of ``mapset`` (per cosmology for maps at several, see
    ``cosmology_split_indices``)."""
    idx = split_indices(len(mapset), seed) if mapset.params is None else cosmology_split_indices(mapset, seed)
    out = {}
    for k, v in idx.items():
        s = mapset.subset(v, f"{mapset.name}:{k}")
        s.meta.update(split=k, split_seed=seed)
        out[k] = s
    return out
