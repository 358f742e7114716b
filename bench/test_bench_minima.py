"""Minimum counts of the unfiltered map (the opt-in minima metric: peaks of −κ at 11 heights) against the Minkowski
functionals on the same maps: the statistics issue allows a new statistic at most twice their time on CPU.

Issue sizes (EMUBENCH_BENCH_FULL=1): 1,229 maps of 64² and 256 maps of 256²; default: 128 maps of 64². The
ratio is asserted under tox -e bench only.
"""

import pytest
from benchutil import FULL, compare_with_minkowski

from emubench.data.lognormal import generate
from emubench.metrics.curves import MINIMA_NU
from emubench.stats import peak_counts

SIZES = [(1229, 64), (256, 256)] if FULL else [(128, 64)]


@pytest.mark.parametrize("n,npix", SIZES)
def test_minima_vs_minkowski(benchmark, n, npix):
    maps = generate(n, npix=npix, seed=4)
    sigma = maps.std()

    def ours():
        peak_counts(-maps, -MINIMA_NU[::-1] * sigma)  # as the metric counts them

    compare_with_minkowski(benchmark, ours, maps, "minima")
