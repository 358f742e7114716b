"""Devices: which one to use, and what it does fast. (torch is imported on use: the CLI starts without it.)"""

from __future__ import annotations

from typing import Any

from .errors import EmubenchError


def resolve_device(device: str) -> str:
    """'auto' → 'cuda' when a GPU is present, else 'cpu'; 'cpu', 'cuda', 'cuda:N' checked; anything else refused."""
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cpu" or device.startswith("cuda"):
        if device.startswith("cuda") and not torch.cuda.is_available():
            raise EmubenchError(f"device {device!r} asked for, but no CUDA GPU is available")
        return device
    raise EmubenchError(f"unknown device {device!r} (use auto, cpu, cuda or cuda:N)")


def fast_bf16(device: Any) -> bool:
    """True where bfloat16 matrix products are fast (CUDA, or a CPU with AMX); see ``emubench.stats``."""
    from .stats import fast_bf16 as fast

    return fast(device)
