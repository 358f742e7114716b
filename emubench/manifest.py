"""The run manifest's schema and its validation (``manifest.json`` in every run folder).

Manifest schema, ``manifest_version`` 1 (``MANIFEST_SCHEMA``; every key required, with its type):

- ``manifest_version`` (int): 1.
- ``model`` (str): the registered model whose ``from_run`` rebuilds the model from this folder.
- ``dataset`` (dict): ``name`` (str or null: a registered dataset) or ``files`` (list of paths or null: files
  of maps), ``options`` (dict: the dataset options), ``hash`` (str: ``MapSet.content_hash()``), ``hash_version``
  (int, optional: 2, over every map; absent in older manifests, version 1: the first and last 32 maps), ``side_deg``
  (float, degrees), ``npix`` (int), ``n_maps`` (int), ``split_seed`` (int). One of ``name`` and ``files`` is set.
- ``seed`` (int): the training seed.
- ``environment`` (dict): versions (emubench, torch, numpy, python, git revision).
- ``checkpoints`` (dict): name → {``file`` (str, relative to the folder), ``sha256`` (str), ``step`` (int), and
  whatever the trainer adds (epoch, validation)}.
- ``latest``, ``best`` (str or null): names in ``checkpoints``.

A trainer adds its own keys (the model's config, the training config, a transform); they are kept as given.
Manifests written before the schema (no ``manifest_version``) are read with only ``model`` required.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from .errors import EmubenchError

HASH_VERSIONS = (1, 2)  # the MapSet.content_hash versions this emubench computes and manifests may name

MANIFEST_VERSION = 1
_NONE = type(None)
_NUMBER = (int, float)

# key: (allowed types, what it holds). The README of the schema is the module docstring above.
MANIFEST_SCHEMA: dict[str, tuple[tuple[type, ...], str]] = {
    "manifest_version": ((int,), "schema version (1)"),
    "model": ((str,), "registered model name that rebuilds the model"),
    "dataset": ((dict,), "the data the run was trained on"),
    "seed": ((int,), "training seed"),
    "environment": ((dict,), "versions of emubench, torch, numpy, python; git revision"),
    "checkpoints": ((dict,), "checkpoint name → {file, sha256, step, ...}"),
    "latest": ((str, _NONE), "newest checkpoint"),
    "best": ((str, _NONE), "best checkpoint by the trainer's validation"),
}
DATASET_SCHEMA: dict[str, tuple[tuple[type, ...], str]] = {
    "name": ((str, _NONE), "registered dataset name"),
    "files": ((list, _NONE), "files of maps"),
    "options": ((dict,), "dataset options"),
    "hash": ((str,), "MapSet.content_hash() (of version hash_version: an optional int, 1 when absent)"),
    "side_deg": (_NUMBER, "map side in degrees"),
    "npix": ((int,), "map side in pixels"),
    "n_maps": ((int,), "maps in the dataset"),
    "split_seed": ((int,), "seed of the train/val/test split"),
}
CHECKPOINT_SCHEMA: dict[str, tuple[tuple[type, ...], str]] = {
    "file": ((str,), "path relative to the run folder"),
    "sha256": ((str,), "content hash of the file"),
    "step": ((int,), "optimiser steps done"),
}


def _check_keys(obj: dict, schema: dict, where: str, path: Path, strict: bool = True) -> None:
    for key, (types, _) in schema.items():
        if key not in obj:
            if strict:
                raise EmubenchError(
                    f"{path}: manifest key '{where}{key}' is missing (manifest_version {MANIFEST_VERSION})"
                )
            continue
        value = obj[key]
        if isinstance(value, bool) or not isinstance(value, types):
            names = " or ".join("null" if t is _NONE else t.__name__ for t in types)
            raise EmubenchError(f"{path}: manifest key '{where}{key}' must be {names}, got {type(value).__name__}")


def validate_manifest(manifest: Any, path: str | os.PathLike) -> dict[str, Any]:
    """Check ``manifest`` against the schema; a one-line ``EmubenchError`` naming the key and ``path`` if not.

    Returns the manifest. Manifests without ``manifest_version`` (written before the schema) need only ``model``;
    the keys they do have must still have the right types."""
    path = Path(path)
    if not isinstance(manifest, dict):
        raise EmubenchError(f"{path}: a manifest must be a JSON object, got {type(manifest).__name__}")
    version = manifest.get("manifest_version")
    strict = version is not None
    if strict and version != MANIFEST_VERSION:
        raise EmubenchError(
            f"{path}: manifest_version {version!r} is not supported (this emubench reads {MANIFEST_VERSION})"
        )
    if not strict and "model" not in manifest:
        raise EmubenchError(f"{path}: manifest key 'model' is missing")
    _check_keys(manifest, MANIFEST_SCHEMA, "", path, strict)
    ds = manifest.get("dataset")
    if isinstance(ds, dict):
        _check_keys(ds, DATASET_SCHEMA, "dataset.", path, strict)
        version = ds.get("hash_version", 1)  # optional: manifests before it hashed with version 1
        if isinstance(version, bool) or version not in HASH_VERSIONS:
            raise EmubenchError(f"{path}: manifest key 'dataset.hash_version' must be 1 or 2, got {version!r}")
        if not ds.get("name") and not ds.get("files"):
            raise EmubenchError(
                f"{path}: manifest key 'dataset' needs a 'name' or 'files' (which data the run was trained on)"
            )
    for name, entry in (manifest.get("checkpoints") or {}).items():
        if not isinstance(entry, dict):
            raise EmubenchError(f"{path}: manifest key checkpoints.{name!r} must be dict, got {type(entry).__name__}")
        _check_keys(entry, CHECKPOINT_SCHEMA, f"checkpoints.{name}.", path, strict)
    for key in ("latest", "best"):
        name = manifest.get(key)
        if name is not None and name not in (manifest.get("checkpoints") or {}):
            raise EmubenchError(
                f"{path}: manifest key {key!r} names checkpoint {name!r}, which is not in 'checkpoints'"
            )
    return manifest
