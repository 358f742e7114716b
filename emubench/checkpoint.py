"""Run folders and checkpoints: safetensors weights, a JSON manifest, content hashes, atomic writes.

A run folder looks like::

    run/
      manifest.json            model + config, dataset and its hash, seeds, versions, checkpoint index
      checkpoints/<name>.safetensors
      log.jsonl                training log (one JSON object a line)
      samples/epoch-NNN.png    fixed-latent sample grids

Nothing here unpickles: tensors live in safetensors, everything else in JSON. Foreign ``.pt`` files go
through ``torch.load(weights_only=True)``, which refuses pickles that carry code.
"""

from __future__ import annotations

import fcntl
import json
import os
import pickle
import platform
import subprocess
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import __version__
from .errors import EmubenchError
from .io import atomic_path, sha256_file, write_json
from .manifest import validate_manifest

if TYPE_CHECKING:  # torch and safetensors load on use: opening a run to check it stays fast
    import torch

MANIFEST = "manifest.json"


# -- nested state (optimiser, RNG) <-> flat tensors + JSON -----------------------------------------


def flatten_state(obj: Any, prefix: str, tensors: dict[str, torch.Tensor]) -> Any:
    """Move every tensor of a nested dict/list into ``tensors`` and return a JSON-able skeleton."""
    import torch

    if isinstance(obj, torch.Tensor):
        key = prefix
        tensors[key] = obj.detach().cpu().contiguous()
        return {"__tensor__": key}
    if isinstance(obj, dict):
        return {
            "__dict__": [
                [flatten_state(k, f"{prefix}/k{i}", tensors), flatten_state(v, f"{prefix}/{i}", tensors)]
                for i, (k, v) in enumerate(obj.items())
            ]
        }
    if isinstance(obj, (list, tuple)):
        return {"__list__": [flatten_state(v, f"{prefix}/{i}", tensors) for i, v in enumerate(obj)]}
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    raise TypeError(f"cannot store {type(obj).__name__} in a checkpoint")


def unflatten_state(skel: Any, tensors: dict[str, torch.Tensor]) -> Any:
    if isinstance(skel, dict):
        if "__tensor__" in skel:
            return tensors[skel["__tensor__"]]
        if "__dict__" in skel:
            return {unflatten_state(k, tensors): unflatten_state(v, tensors) for k, v in skel["__dict__"]}
        if "__list__" in skel:
            return [unflatten_state(v, tensors) for v in skel["__list__"]]
    return skel


# -- manifest --------------------------------------------------------------------------------------


def git_revision() -> str | None:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5, cwd=Path(__file__).resolve().parent
        )
        return out.stdout.strip() or None if out.returncode == 0 else None
    except (OSError, subprocess.SubprocessError):
        return None


def environment() -> dict[str, Any]:
    """Versions and host facts recorded in every manifest."""
    import numpy
    import torch

    return {
        "emubench": __version__,
        "torch": torch.__version__,
        "numpy": numpy.__version__,
        "python": platform.python_version(),
        "git_revision": git_revision(),
    }


def read_manifest(run_dir: str | os.PathLike) -> dict[str, Any]:
    path = Path(run_dir) / MANIFEST
    if not path.exists():
        raise EmubenchError(f"{run_dir}: not a run folder (no {MANIFEST})")
    try:
        manifest = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise EmubenchError(f"{path}: corrupt manifest ({exc})") from None
    return validate_manifest(manifest, path)


def write_manifest(run_dir: str | os.PathLike, manifest: dict[str, Any]) -> None:
    write_json(Path(run_dir) / MANIFEST, manifest)


def _inside(run_dir: Path, rel: str) -> Path:
    """Resolve ``rel`` inside ``run_dir``; a manifest path that escapes the folder is refused."""
    base = run_dir.resolve()
    path = (base / rel).resolve()
    if base != path and base not in path.parents:
        raise EmubenchError(f"{run_dir / MANIFEST}: path {rel!r} escapes the run folder; refused")
    return path


# -- checkpoints -----------------------------------------------------------------------------------


def save_checkpoint(
    run_dir: str | os.PathLike, manifest: dict[str, Any], name: str, state: dict[str, Any], info: dict[str, Any]
) -> Path:
    """Write ``state`` (nested dicts of tensors and plain values) as checkpoints/<name>.safetensors.

    The file is written atomically, then its sha256 is recorded in the manifest (also atomic), so the
    manifest only ever names complete files. ``info`` (epoch, step, metrics) goes into the index entry.
    """
    entry = write_checkpoint_file(run_dir, name, state)
    manifest.setdefault("checkpoints", {})[name] = {**entry, **info}
    manifest["latest"] = name
    write_manifest(run_dir, manifest)
    return Path(run_dir) / entry["file"]


def write_checkpoint_file(run_dir: str | os.PathLike, name: str, state: dict[str, Any]) -> dict[str, str]:
    """Write ``state`` as checkpoints/<name>.safetensors atomically; returns its manifest entry (file, sha256)."""
    from safetensors.torch import save_file

    rel = f"checkpoints/{name}.safetensors"
    path = Path(run_dir) / rel
    tensors: dict[str, torch.Tensor] = {}
    skeleton = flatten_state(state, "s", tensors)
    with atomic_path(path) as tmp:
        save_file(tensors, str(tmp), metadata={"emubench_state": json.dumps(skeleton)})
    return {"file": rel, "sha256": sha256_file(path)}


def verified_checkpoints(run_dir: str | os.PathLike, manifest: dict[str, Any]) -> list[str]:
    """Names of the checkpoints whose files exist and match their recorded hash, oldest first."""
    good = []
    for name, entry in sorted(manifest.get("checkpoints", {}).items(), key=lambda kv: kv[1].get("step", 0)):
        path = _inside(Path(run_dir), entry["file"])
        if path.exists() and sha256_file(path) == entry.get("sha256"):
            good.append(name)
    return good


def load_checkpoint(run_dir: str | os.PathLike, manifest: dict[str, Any], name: str | None = None) -> dict[str, Any]:
    """Load checkpoint ``name`` (default: the manifest's latest) after checking its content hash."""
    from safetensors import SafetensorError, safe_open

    run_dir = Path(run_dir)
    entries = manifest.get("checkpoints", {})
    name = name or manifest.get("latest")
    if not name:
        raise EmubenchError(f"{run_dir}: the run has no checkpoint yet (train it, or resume the training)")
    if name not in entries:
        raise EmubenchError(f"{run_dir}: no checkpoint {name!r} in the manifest (have: {', '.join(entries) or 'none'})")
    path = _inside(run_dir, entries[name]["file"])
    if not path.exists() or sha256_file(path) != entries[name].get("sha256"):
        good = [g for g in verified_checkpoints(run_dir, manifest) if g != name]
        hint = f"; last good checkpoint: {good[-1]!r}" if good else "; no good checkpoint left"
        raise EmubenchError(f"{path}: checkpoint is missing, truncated or corrupt (hash mismatch){hint}")
    try:
        with safe_open(str(path), framework="pt") as f:  # one open: tensors and the state skeleton together
            skeleton = json.loads((f.metadata() or {})["emubench_state"])
            tensors = {k: f.get_tensor(k) for k in f.keys()}
    except (SafetensorError, KeyError, json.JSONDecodeError, OSError) as exc:
        raise EmubenchError(f"{path}: unreadable checkpoint ({exc})") from None
    return unflatten_state(skeleton, tensors)


def load_weights(path: str | os.PathLike) -> dict[str, torch.Tensor]:
    """Load a foreign weights file (.safetensors, or .pt/.pth without executing code)."""
    import torch
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    path = Path(path)
    if not path.exists():
        raise EmubenchError(f"{path}: no such file")
    if path.suffix == ".safetensors":
        try:
            return load_file(str(path))
        except (SafetensorError, OSError) as exc:
            raise EmubenchError(f"{path}: unreadable safetensors file ({exc})") from None
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        raise EmubenchError(
            f"{path}: refused: the pickle holds objects other than weights (possible code) [{first[:120]}]"
        ) from None
    except (RuntimeError, EOFError, OSError, ValueError) as exc:
        raise EmubenchError(f"{path}: unreadable weights file ({str(exc).splitlines()[0][:160]})") from None
    if isinstance(state, dict) and "state_dict" in state and isinstance(state["state_dict"], dict):
        state = state["state_dict"]
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise EmubenchError(f"{path}: does not hold a dict of tensors")
    return state


class RunLock:
    """An exclusive lock on a run folder, so two processes never write the same run."""

    def __init__(self, run_dir: str | os.PathLike):
        self.path = Path(run_dir) / ".lock"
        self._fd: int | None = None

    def __enter__(self) -> RunLock:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        while True:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                raise EmubenchError(
                    f"{self.path.parent}: another process is writing this run folder (locked); refused"
                ) from None
            # The holder removes the file when it is done (no stale .lock is left behind): a lock taken on a file
            # that was removed meanwhile guards nothing, so take the one now at the path instead.
            try:
                if os.stat(self.path).st_ino == os.fstat(fd).st_ino:
                    break
            except FileNotFoundError:
                pass
            os.close(fd)
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        self._fd = fd
        return self

    def __exit__(self, *exc) -> None:
        if self._fd is not None:
            self.path.unlink(missing_ok=True)  # while still held: see __enter__
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None
