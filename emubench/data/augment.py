"""Augmentation by the symmetries of the square. The implementation lives in ``emubench.stats.symmetries``
(shared with the neighbour search and the memoriser baselines); this import path is kept for plugins."""

from ..stats.symmetries import all_symmetries, random_symmetries, symmetry

__all__ = ["symmetry", "all_symmetries", "random_symmetries"]
