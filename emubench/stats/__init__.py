"""Statistics of κ maps: one implementation each, numpy or torch input, CPU or GPU.

The definitions follow LensTools 1.2 ``ConvergenceMap`` (see docs/statistics.md): power_spectrum,
minkowski, peak_counts, pdf; plus moments and exact nearest neighbours.
"""

from .minkowski import minkowski
from .neighbours import NeighbourIndex, ShiftNeighbourIndex, brute_force, nearest_neighbours, screen_dtype
from .pdf import moments, pdf, pixel_cdf
from .peaks import peak_counts
from .power import default_ell_edges, power_spectrum

__all__ = ["power_spectrum", "default_ell_edges", "minkowski", "peak_counts", "pdf", "pixel_cdf", "moments",
           "nearest_neighbours", "brute_force", "NeighbourIndex", "ShiftNeighbourIndex", "screen_dtype"]
