"""Betti numbers (β0 and β1 at 13 thresholds) against the Minkowski functionals (25 thresholds, the metric's
grids) on the same maps: the statistics issue allows a new statistic at most twice their time on CPU.

Issue sizes (EMUBENCH_BENCH_FULL=1): 1,229 maps of 64² and 256 maps of 256²; default: 128 maps of 64². The
ratio is asserted under tox -e bench only.
"""

import pytest
from benchutil import FULL, compare_with_minkowski

from emubench.data.lognormal import generate
from emubench.metrics.curves import BETTI_NU
from emubench.stats import betti_numbers

SIZES = [(1229, 64), (256, 256)] if FULL else [(128, 64)]


@pytest.mark.parametrize("n,npix", SIZES)
def test_betti_numbers_vs_minkowski(benchmark, n, npix):
    maps = generate(n, npix=npix, seed=4)
    sigma = maps.std()

    def ours():
        betti_numbers(maps, BETTI_NU * sigma)

    compare_with_minkowski(benchmark, ours, maps, "Betti numbers")
