"""Run folders: what a trainer writes and ``emubench score --model RUN`` reads back.

A run folder looks like::

    run/
      manifest.json                 the versioned manifest below
      checkpoints/<name>.safetensors weights and optimiser state, hashed in the manifest, never unpickled
      log.jsonl                     training log (one JSON object a line)
      samples/...                   anything else the trainer writes with ``RunFolder.write_bytes``
      .lock                         held while a process writes the run

``RunFolder`` owns all of it: creating and opening a run, the lock, atomic and hashed checkpoints, ``latest``
and ``best``, rotation of step checkpoints, the manifest (validated on every write and read), the check that
a run is scored on the data it was trained on, and the fault-injection points the reliability tests use.

The manifest's schema (``manifest_version`` 1) is documented and checked in ``emubench.manifest``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from .checkpoint import (
    MANIFEST,
    RunLock,
    environment,
    load_checkpoint,
    read_manifest,
    verified_checkpoints,
    write_checkpoint_file,
)
from .data.base import HASH_VERSION, MapSet
from .errors import EmubenchError
from .io import atomic_path, failpoint, write_json, write_text
from .manifest import MANIFEST_VERSION, validate_manifest


def dataset_block(mapset: MapSet, split_seed: int) -> dict[str, Any]:
    """The manifest's ``dataset`` entry for ``mapset`` split with ``split_seed``."""
    return {
        "name": None if mapset.meta.get("files") else mapset.meta.get("dataset", mapset.name.split(":")[0]),
        "files": mapset.meta.get("files"),
        "options": dict(mapset.meta.get("options", {})),
        "hash": mapset.content_hash(),
        "hash_version": HASH_VERSION,
        "side_deg": float(mapset.side_deg),
        "npix": mapset.npix,
        "n_maps": len(mapset),
        "split_seed": int(split_seed),
    }


class RunFolder:
    """A run folder on disk and its manifest (see the module docstring for the layout and the schema).

    Create one with ``RunFolder.create`` (a new run) or ``RunFolder.open`` (an existing one); hold
    ``run.lock()`` while writing. ``run.manifest`` is the validated manifest as a dict; change it through
    ``update``, ``save_checkpoint`` and ``set_best`` so that what is on disk is always valid and complete.
    """

    def __init__(self, path: str | os.PathLike, manifest: dict[str, Any]):
        self.path = Path(path)
        self.manifest = manifest

    # -- create, open, lock ------------------------------------------------------------------------------

    @staticmethod
    def exists(path: str | os.PathLike) -> bool:
        """True if ``path`` holds a run (a manifest)."""
        return (Path(path) / MANIFEST).exists()

    @classmethod
    def create(
        cls, path: str | os.PathLike, *, model: str, mapset: MapSet, split_seed: int, seed: int, **extra: Any
    ) -> RunFolder:
        """Start a new run in ``path`` (refused if it already holds one) and write its first manifest.

        ``extra``: the trainer's own manifest keys (model and training configs, a transform, ...)."""
        path = Path(path)
        if cls.exists(path):
            raise EmubenchError(f"{path}: already holds a run; resume it or choose another folder")
        manifest = {
            "manifest_version": MANIFEST_VERSION,
            "model": model,
            "dataset": dataset_block(mapset, split_seed),
            "seed": int(seed),
            "environment": environment(),
            "checkpoints": {},
            "latest": None,
            "best": None,
            **extra,
        }
        run = cls(path, manifest)
        run.write_manifest()
        return run

    @classmethod
    def open(cls, path: str | os.PathLike) -> RunFolder:
        """An existing run: its manifest read and validated."""
        path = Path(path)
        if not path.exists():
            raise EmubenchError(f"{path}: no such run folder")
        return cls(path, read_manifest(path))

    def lock(self) -> RunLock:
        """An exclusive lock (a context manager): a second process writing this run is refused."""
        return RunLock(self.path)

    @staticmethod
    def lock_folder(path: str | os.PathLike) -> RunLock:
        """The same lock for a folder that holds no run yet (take it before ``create``, so two processes
        starting the same run cannot both create it)."""
        return RunLock(path)

    # -- the manifest ------------------------------------------------------------------------------------

    def write_manifest(self) -> None:
        """Validate and write the manifest atomically."""
        validate_manifest(self.manifest, self.path / MANIFEST)
        failpoint("manifest")  # the reliability tests kill the process here
        write_json(self.path / MANIFEST, self.manifest)

    def update(self, **keys: Any) -> None:
        """Set top-level manifest keys and write it (an invalid result is refused and changes nothing)."""
        old = dict(self.manifest)
        self.manifest.update(keys)
        try:
            self.write_manifest()
        except BaseException:
            self.manifest.clear()
            self.manifest.update(old)
            raise

    @property
    def latest(self) -> str | None:
        """The name of the newest checkpoint written (None before the first)."""
        return self.manifest.get("latest")

    @property
    def best(self) -> str | None:
        """The name of the checkpoint the trainer marked best (what ``score`` and ``sample`` load by default)."""
        return self.manifest.get("best")

    # -- checkpoints ---------------------------------------------------------------------------------------

    def save_checkpoint(
        self, name: str, state: dict[str, Any], *, step: int, keep_last: int | None = None, **info: Any
    ) -> Path:
        """Write ``state`` (nested dicts/lists of tensors and plain values) as checkpoints/<name>.safetensors,
        atomically, record its hash and ``info`` in the manifest and make it ``latest``.

        keep_last: keep only the newest ``keep_last`` checkpoints (by step) besides ``best``; the manifest forgets
        a file before it is deleted, so it never names a missing one."""
        failpoint("checkpoint")  # the reliability tests kill the process here, before anything is written
        entry = write_checkpoint_file(self.path, name, state)
        entry = {**entry, "step": int(step), **info}
        self.update(checkpoints={**self.manifest["checkpoints"], name: entry}, latest=name)
        path = self.path / entry["file"]
        if keep_last is not None:
            names = sorted(
                (n for n in self.manifest["checkpoints"] if n != self.manifest.get("best")),
                key=lambda n: self.manifest["checkpoints"][n]["step"],
            )
            for old in names[: max(0, len(names) - keep_last)]:
                if old == self.manifest.get("latest"):
                    continue
                entry = self.manifest["checkpoints"].pop(old)
                self.write_manifest()
                (self.path / entry["file"]).unlink(missing_ok=True)
        return path

    def set_best(self, name: str, **keys: Any) -> None:
        """Mark checkpoint ``name`` as ``best`` (with any other top-level keys, e.g. its score)."""
        if name not in self.manifest["checkpoints"]:
            raise EmubenchError(f"{self.path}: no checkpoint {name!r} to mark as best")
        self.update(best=name, **keys)

    def verified_checkpoints(self) -> list[str]:
        """Names of the checkpoints whose files exist and match their hash, oldest first."""
        return verified_checkpoints(self.path, self.manifest)

    def newest_good_checkpoint(self) -> str | None:
        """The newest checkpoint whose file is complete (by step; a plain step checkpoint before ``best`` at a tie)."""
        good = self.verified_checkpoints()
        if not good:
            return None
        return max(good, key=lambda g: (self.manifest["checkpoints"][g]["step"], g != self.manifest.get("best")))

    def load_checkpoint(self, name: str | None = None) -> dict[str, Any]:
        """The state of checkpoint ``name`` (default: ``best``, else ``latest``), after checking its hash."""
        name = name or self.best or self.latest
        if name is None:
            raise EmubenchError(f"{self.path}: the run has no checkpoint yet (train it, or resume the training)")
        return load_checkpoint(self.path, self.manifest, name)

    # -- other files ---------------------------------------------------------------------------------------

    def write_bytes(self, rel: str, data: bytes) -> Path:
        """Write ``data`` to ``rel`` inside the run, atomically."""
        failpoint("write-bytes")  # the reliability tests kill the process here (the per-epoch sample grid)
        path = self.path / rel
        with atomic_path(path) as tmp:
            tmp.write_bytes(data)
        return path

    def append_log(self, record: dict[str, Any]) -> None:
        """Append one JSON line to log.jsonl (the training log)."""
        with open(self.path / "log.jsonl", "a") as f:
            f.write(json.dumps(record) + "\n")

    def truncate_log(self, step: int) -> None:
        """Drop log lines after ``step`` (on resume, so that the log matches the resumed run); an empty log if none."""
        path = self.path / "log.jsonl"
        if not path.exists():
            path.touch()
            return
        lines = path.read_text().splitlines()
        kept = [ln for ln in lines if ln and json.loads(ln).get("step", 0) <= step]
        if len(kept) < len(lines):  # rewritten only when something goes (atomically: a crash keeps the old log)
            write_text(path, "".join(k + "\n" for k in kept))

    # -- provenance ----------------------------------------------------------------------------------------

    def check_data(self, mapset: MapSet, *, allow_other_data: bool = False) -> None:
        """Refuse ``mapset`` if its content hash differs from the one the run was trained on."""
        ds = self.manifest.get("dataset") or {}
        want = ds.get("hash")
        # A manifest without a version was written before version 2 (version 1), or by a trainer of its own that
        # calls content_hash() but does not write the version (the current one): either matches.
        versions = [ds["hash_version"]] if "hash_version" in ds else [HASH_VERSION, 1]
        have = mapset.content_hash(versions[0])
        if want is not None and all(want != mapset.content_hash(v) for v in versions) and not allow_other_data:
            raise EmubenchError(
                f"{self.path}: the data differ from those the run was trained on (hash {have}, manifest "
                f"{want}); pass --allow-other-data to score it on them on purpose"
            )
