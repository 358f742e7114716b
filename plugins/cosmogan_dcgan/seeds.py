"""Every random stream of training, in one table, so that no two collide and a change to one is seen.

A run is a pure function of its ``seed``: the data order of each epoch, each rank's stream of latents, label
flips and symmetries, the fixed latents of the sample grid and the latents of validation are drawn from the
streams below. Changing a line changes every run trained after it (the shipped ``reports/smoke`` included).
"""

from __future__ import annotations

# The grid of samples written at each epoch shows the same latents in every run, so two runs' grids compare.
SAMPLE_GRID = 12345


def data_order(seed: int, epoch: int) -> int:
    """The permutation of the training maps in ``epoch``: nothing to save, identical after a resume."""
    return seed * 100_003 + epoch  # a prime stride: the epochs of neighbouring seeds never share a stream


def step_stream(seed: int, rank: int) -> int:
    """The latents, label flips and symmetries of ``rank`` (checkpointed, so a resume continues it)."""
    return seed * 7919 + rank


def validation(seed: int) -> int:
    """The latents validation generates from at every epoch (the same each epoch: epochs compare)."""
    return seed + 1
