"""The scattering coefficients (the metric's: Morlet, 8 angles, J = 4 on 64², 5 on 256², both orders) against the
Minkowski functionals (25 thresholds) on the same maps: the statistics issue allows a new statistic at most twice
their time on CPU.

Issue sizes (EMUBENCH_BENCH_FULL=1): 1,229 maps of 64² and 256 maps of 256²; default: 128 maps of 64². The
ratio is asserted under tox -e bench only.
"""

import pytest
from benchutil import FULL, compare_with_minkowski

from emubench.data.lognormal import generate
from emubench.metrics.curves import ScatteringMetric
from emubench.stats import scattering_coefficients

SIZES = [(1229, 64), (256, 256)] if FULL else [(128, 64)]


@pytest.mark.parametrize("n,npix", SIZES)
def test_scattering_vs_minkowski(benchmark, n, npix):
    maps = generate(n, npix=npix, side_deg=0.866, seed=4)
    J = ScatteringMetric.scales(npix)
    ours = lambda: scattering_coefficients(maps, J, 8)  # noqa: E731
    compare_with_minkowski(benchmark, ours, maps, f"scattering (J={J}, L=8)", repeat=2)  # minutes a call at 256²
