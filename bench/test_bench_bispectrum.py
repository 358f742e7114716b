"""The bispectrum (equilateral and folded, the power spectrum's default ℓ bins) against the Minkowski functionals
(25 thresholds) on the same maps: the statistics issue allows a new statistic at most twice their time on CPU.

Issue sizes (EMUBENCH_BENCH_FULL=1): 1,229 maps of 64² and 256 maps of 256²; default: 128 maps of 64². The
ratio is asserted under tox -e bench only.
"""

import pytest
from benchutil import FULL, best_time

from emubench.data.lognormal import generate
from emubench.metrics.curves import MF_NU
from emubench.stats import bispectrum, minkowski
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

    ratio = best_time(ours, repeat=2) / best_time(lambda: minkowski(maps, MF_NU * maps.std()), repeat=2)
    benchmark.extra_info["ratio_vs_minkowski"] = ratio
    benchmark(ours)
    print(f"\nbispectrum (2 configurations): {ratio:.2f}x the Minkowski functionals' time ({n} maps of {npix}²)")
    if FULL:
        assert ratio <= 2.0
