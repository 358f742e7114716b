"""Starlet statistics (ℓ1-norm, peaks and minima at 4 scales, one transform) against the Minkowski functionals on
the same maps: the statistics issue allows a new statistic at most twice their time on CPU.

Issue sizes (EMUBENCH_BENCH_FULL=1): 1,229 maps of 64² (the default score's reference) and 256 maps of 256²;
default: 128 maps of 64². The ratio is asserted under tox -e bench only.
"""

import numpy as np
import pytest
from benchutil import FULL, compare_with_minkowski

from emubench.data.lognormal import generate
from emubench.stats import starlet, starlet_statistics

SIZES = [(1229, 64), (256, 256)] if FULL else [(128, 64)]


@pytest.mark.parametrize("n,npix", SIZES)
def test_starlet_statistics_vs_minkowski(benchmark, n, npix):
    maps = generate(n, npix=npix, seed=4)
    sigma = starlet(maps[:64], 4)[:, :4].std(axis=(0, 2, 3))
    fine = np.linspace(-6.0, 8.0, 281)  # the starlet metric's grid

    def ours():
        starlet_statistics(maps, 4, fine, sigma)

    compare_with_minkowski(benchmark, ours, maps, "starlet statistics")
