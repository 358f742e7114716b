"""Safe file I/O: atomic writes and map arrays validated on the way in."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from .errors import EmubenchError

_failpoint_hits: dict[str, int] = {}


def failpoint(name: str) -> None:
    """Fault injection for the reliability tests: ``EMUBENCH_FAILPOINT=name:N[:action]`` makes the N-th hit of
    ``name`` in this process die by SIGKILL (action ``kill``, the default) or raise ENOSPC (action ``enospc``)."""
    spec = os.environ.get("EMUBENCH_FAILPOINT")
    if not spec or not spec.startswith(name + ":"):
        return
    parts = spec.split(":")
    _failpoint_hits[name] = _failpoint_hits.get(name, 0) + 1
    if _failpoint_hits[name] != int(parts[1]):
        return
    if len(parts) > 2 and parts[2] == "enospc":
        raise OSError(28, "No space left on device (injected)")
    import signal

    os.kill(os.getpid(), signal.SIGKILL)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success it is fsynced and renamed onto ``path``.

    A crash or an error (disk full) leaves the previous file untouched and no temporary behind.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp = Path(tmp)
    try:
        yield tmp
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; the file gets the mode open() would give it
        failpoint("atomic-write")  # the temporary is complete, the target not yet replaced
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


@contextlib.contextmanager
def atomic_folder(path: str | os.PathLike) -> Iterator[Path]:
    """Yield an empty folder beside ``path``; on success it replaces ``path`` (and whatever it held).

    A failure part-way (disk full, a bad plot) leaves the previous folder complete and no half-written one.
    Between the two renames at the end the folder is briefly absent, never half-written.
    """
    import shutil

    final = Path(path)
    final.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{final.name}.", suffix=".tmp", dir=final.parent))
    try:
        yield work
        os.chmod(work, 0o777 & ~_umask())  # mkdtemp makes 0700; reports are meant to be shared
        old = None
        if final.exists():
            old = final.with_name(f".{final.name}.old-{os.getpid()}")
            final.rename(old)
        work.rename(final)
        if old is not None:
            shutil.rmtree(old)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise


def write_bytes(path: str | os.PathLike, data: bytes) -> None:
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def write_text(path: str | os.PathLike, text: str) -> None:
    write_bytes(path, text.encode())


def write_json(path: str | os.PathLike, obj) -> None:
    write_text(path, json.dumps(obj, indent=2, sort_keys=True, default=str) + "\n")


def save_npy(path: str | os.PathLike, array: np.ndarray) -> None:
    """Write ``array`` to ``path`` atomically (never a half-written .npy)."""
    path = Path(path)
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as f:
            np.save(f, np.ascontiguousarray(array), allow_pickle=False)


def sha256_file(path: str | os.PathLike, chunk: int = 1 << 22) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def check_maps(maps: np.ndarray, source: str, *, check_finite: bool = True) -> np.ndarray:
    """Validate a stack of maps and return it as (N, H, W).

    Accepts (N, H, W), (N, 1, H, W) or a single (H, W) map; the maps must be square, real-valued, non-empty
    and (by default) finite. Errors name ``source`` and, for non-finite values, the first bad map index.
    """
    if maps.dtype == object or not (np.issubdtype(maps.dtype, np.floating) or np.issubdtype(maps.dtype, np.integer)):
        raise EmubenchError(f"{source}: dtype {maps.dtype} cannot be read as maps (need a float array)")
    if np.issubdtype(maps.dtype, np.integer):
        raise EmubenchError(f"{source}: integer dtype {maps.dtype} cannot be read as κ maps (need float32 or float64)")
    if maps.ndim == 2:
        maps = maps[None]
    if maps.ndim == 4 and maps.shape[1] == 1:
        maps = maps[:, 0]
    if maps.ndim != 3:
        raise EmubenchError(f"{source}: shape {tuple(maps.shape)} is not (N, H, W) or (N, 1, H, W)")
    n, h, w = maps.shape
    if n == 0:
        raise EmubenchError(f"{source}: holds no maps (shape {tuple(maps.shape)})")
    if h != w:
        raise EmubenchError(f"{source}: maps are {h}x{w}, not square")
    if h < 8:
        raise EmubenchError(f"{source}: maps are {h}x{w}, too small (need at least 8x8)")
    if check_finite:
        # Chunked so that a memory-mapped file is scanned without loading it whole.
        step = max(1, (1 << 24) // (h * w))
        for start in range(0, n, step):
            block = np.asarray(maps[start : start + step])
            finite = np.isfinite(block).reshape(len(block), -1).all(axis=1)
            if not finite.all():
                bad = start + int(np.argmin(finite))
                raise EmubenchError(f"{source}: map {bad} contains NaN or Inf")
    return maps


def load_npy(path: str | os.PathLike, *, mmap: bool = True) -> np.ndarray:
    """Open a .npy file without ever unpickling; a one-line error for any unreadable or corrupt file."""
    path = Path(path)
    if not path.exists():
        raise EmubenchError(f"{path}: no such file")
    if path.is_dir():
        raise EmubenchError(f"{path}: is a folder, not a .npy file")
    if path.stat().st_size == 0:
        raise EmubenchError(f"{path}: empty file")
    try:
        arr = np.load(path, mmap_mode="r" if mmap else None, allow_pickle=False)
    except ValueError as exc:
        if "pickle" in str(exc).lower() or "object" in str(exc).lower():
            raise EmubenchError(f"{path}: holds Python objects (a pickle); refused for safety") from None
        raise EmubenchError(f"{path}: not a valid .npy file ({exc})") from None
    except (OSError, EOFError) as exc:
        raise EmubenchError(f"{path}: cannot be read as .npy ({exc})") from None
    if not isinstance(arr, np.ndarray):
        raise EmubenchError(f"{path}: is an .npz archive, not a single .npy array")
    return arr
