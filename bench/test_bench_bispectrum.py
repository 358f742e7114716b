"""The bispectrum (equilateral and folded, the power spectrum's default ℓ bins) against the Minkowski functionals
(25 thresholds) on the same maps: the statistics issue allows a new statistic at most twice their time on CPU.

Issue sizes (EMUBENCH_BENCH_FULL=1): 1,229 maps of 64² and 256 maps of 256²; default: 128 maps of 64². The
ratio is asserted under tox -e bench only.
"""

import pytest
from benchutil import FULL, compare_with_minkowski

from emubench.data.lognormal import generate
from emubench.stats import bispectrum
from emubench.stats.power import default_ell_edges

SIZES = [(1229, 64), (256, 256)] if FULL else [(128, 64)]
SIDE = 0.866


@pytest.mark.parametrize("n,npix", SIZES)
def test_bispectrum_vs_minkowski(benchmark, n, npix):
    maps = generate(n, npix=npix, side_deg=SIDE, seed=4)
    edges = default_ell_edges(npix, SIDE)

    def ours():
        bispectrum(maps, SIDE, edges, "equilateral")
        bispectrum(maps, SIDE, edges, "folded")

    compare_with_minkowski(benchmark, ours, maps, "bispectrum (2 configurations)")
