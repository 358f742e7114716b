"""One implementation for numpy and torch inputs: compute in torch (CPU or GPU), return what came in."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import torch


def fast_bf16(device: Any) -> bool:
    """True where bfloat16 matrix products are fast: any CUDA GPU, or a CPU with AMX tiles (Intel Sapphire
    Rapids and later). Elsewhere a CPU emulates bfloat16 and it is slower than float32. device: str or torch.device."""
    device = torch.device(device)
    if device.type == "cuda":
        return True
    amx = getattr(torch.cpu, "_is_amx_tile_supported", None)  # private in torch 2.x, hence guarded
    return device.type == "cpu" and bool(amx and amx())


def by_blocks(run: Callable[[slice], None], n: int) -> None:
    """Call ``run`` on contiguous blocks of range(n) (slices of maps), one block per torch thread, all at once:
    compiled kernels (numba, nogil) that way use the threads torch is allowed (tests pin them to one)."""
    k = max(1, min(torch.get_num_threads(), n))
    bounds = [n * i // k for i in range(k + 1)]
    blocks = [slice(a, b) for a, b in zip(bounds[:-1], bounds[1:]) if b > a]
    if len(blocks) <= 1:
        for block in blocks:
            run(block)
        return
    with ThreadPoolExecutor(len(blocks)) as pool:
        list(pool.map(run, blocks))  # list(): a kernel's exception is raised here


def to_tensor(x: Any) -> torch.Tensor:
    """A torch tensor sharing the memory of a numpy array (or the tensor itself). Read-only memmaps are shared,
    not copied, and torch's warning about them is silenced: statistics only ever read their input."""
    if isinstance(x, torch.Tensor):
        return x
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return torch.as_tensor(np.ascontiguousarray(np.asarray(x)))


def as_maps(maps: Any, dtype: torch.dtype | None = torch.float64) -> tuple[torch.Tensor, bool, bool]:
    """Return (tensor (N, H, W) of ``dtype`` on the input's device, input_was_numpy, input_was_single_map).

    ``dtype=None`` keeps float32 and float64 as they are (callers that work in chunks convert each chunk,
    which spares a float64 copy of the whole stack).
    """
    is_numpy = not isinstance(maps, torch.Tensor)
    t = to_tensor(maps)
    single = t.ndim == 2
    if single:
        t = t[None]
    if t.ndim != 3 or t.shape[-1] != t.shape[-2]:
        raise ValueError(f"maps must be (N, H, W) or (H, W) and square, got shape {tuple(t.shape)}")
    if dtype is None:
        dtype = t.dtype if t.dtype in (torch.float32, torch.float64) else torch.float64
    return t.to(dtype), is_numpy, single


def out(x: torch.Tensor, is_numpy: bool, single: bool):
    """Undo ``as_maps``: drop the map axis for a single map, return numpy for numpy input."""
    if single:
        x = x[0]
    return x.detach().cpu().numpy() if is_numpy else x


def edges_tensor(edges: Any, like: torch.Tensor) -> torch.Tensor:
    e = torch.as_tensor(np.asarray(edges, dtype=np.float64) if not isinstance(edges, torch.Tensor) else edges)
    e = e.to(device=like.device, dtype=torch.float64)
    if e.ndim != 1 or len(e) < 2 or not bool(torch.all(e[1:] > e[:-1])):
        raise ValueError("bin edges must be a strictly increasing 1-D sequence of at least 2 values")
    return e


def midpoints(edges: torch.Tensor) -> np.ndarray:
    return (0.5 * (edges[:-1] + edges[1:])).cpu().numpy()


def map_sigma(t: torch.Tensor, norm: bool, step: int = 64) -> torch.Tensor:
    """Per-map standard deviation (ddof=0, float64) as (N, 1), or ones when ``norm`` is False; ``step`` maps
    at a time, so float32 input is never copied to float64 whole."""
    if not norm:
        return torch.ones(t.shape[0], 1, dtype=torch.float64, device=t.device)
    return torch.cat(
        [t[s : s + step].to(torch.float64).flatten(1).std(dim=1, correction=0) for s in range(0, t.shape[0], step)]
    )[:, None]


def binned_sum(values: torch.Tensor, idx: torch.Tensor, nbins: int) -> torch.Tensor:
    """Sum ``values`` (N, M) into ``nbins`` bins by ``idx`` (N, M); indices outside [0, nbins) are dropped."""
    valid = (idx >= 0) & (idx < nbins)
    idx = torch.where(valid, idx, torch.full_like(idx, nbins))
    acc = torch.zeros(values.shape[0], nbins + 1, dtype=values.dtype, device=values.device)
    acc.scatter_add_(1, idx, torch.where(valid, values, torch.zeros_like(values)))
    return acc[:, :nbins]


def threshold_bins(flat: torch.Tensor, edges: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
    """Bin index k with edges[k]*sigma <= value < edges[k+1]*sigma (LensTools' rule); -1 or nbins outside."""
    per_map = (edges[None, :] * sigma).contiguous()  # (N, nb+1), thresholds on raw κ
    return torch.searchsorted(per_map, flat.contiguous(), right=True) - 1
