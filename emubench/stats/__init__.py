"""Statistics of κ maps: one implementation each, numpy or torch input, CPU or GPU.

The definitions follow LensTools 1.2 ``ConvergenceMap`` (docs/statistics.md): power_spectrum, minkowski,
peak_counts, pdf, bispectrum; the starlet transform and its statistics (lenspack's conventions), Betti numbers
(gudhi's cubical complexes), scattering coefficients (kymatio's 2-D transform); plus moments, exact nearest
neighbours and the symmetries of the square.

This package imports nothing from the rest of emubench (a test checks it): it is the bottom layer that data,
baselines, metrics and plugins share. Its modules load on first use (``emubench.stats.power_spectrum`` imports
``emubench.stats.power`` and torch then), so that registering the metrics that use it costs nothing.
"""

from __future__ import annotations

import importlib
from typing import Any

_WHERE = {
    "power_spectrum": "power",
    "default_ell_edges": "power",
    "mode_counts": "power",
    "minkowski": "minkowski_functionals",
    "peak_counts": "peaks",
    "pdf": "pixels",
    "starlet": "wavelets",
    "starlet_l1_norm": "wavelets",
    "starlet_peaks": "wavelets",
    "starlet_statistics": "wavelets",
    "betti_numbers": "topology",
    "bispectrum": "bispectrum",
    "scattering_transform": "scattering",
    "scattering_coefficients": "scattering",
    "scattering_pairs": "scattering",
    "pixel_cdf": "pixels",
    "moments": "pixels",
    "nearest_neighbours": "neighbours",
    "brute_force": "neighbours",
    "NeighbourIndex": "neighbours",
    "ShiftNeighbourIndex": "neighbours",
    "PatchNeighbourIndex": "patch_neighbours",
    "screen_dtype": "neighbours",
    "symmetry": "symmetries",
    "all_symmetries": "symmetries",
    "random_symmetries": "symmetries",
    "to_tensor": "_backend",
    "fast_bf16": "_backend",
}

__all__ = sorted(_WHERE)


# (emubench._lazy does the same for the other packages; this bottom layer imports nothing from emubench)
def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module 'emubench.stats' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{_WHERE[name]}", __name__), name)
    globals()[name] = value  # once loaded, a plain attribute
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_WHERE))
