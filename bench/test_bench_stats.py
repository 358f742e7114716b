"""Power spectrum + Minkowski functionals: our batched implementation vs the LensTools 1.2 per-map loop.

Runs where LensTools is installed (tox -e lenstools, which sets EMUBENCH_BENCH_FULL=1: the issue's 1,024 maps of
256²; 128 maps otherwise). The issue asks for 5× (aim 10×); on this 2-core CPU 6.6–7.1× was measured over five runs
(ours 0.86–0.92 s, LensTools 5.9–6.2 s), and 5× is asserted at the issue's size only, like every ratio: at 128 maps
the ratio moved between 4.6× and 5.8×. What is left of ours is float64 stencil arithmetic whose dozen temporaries do
not fit in the L2 cache; 10× is not reached.
"""

import numpy as np
import pytest
from benchutil import FULL, best_time

from emubench.data.lognormal import generate
from emubench.stats import default_ell_edges, minkowski, power_spectrum

lenstools = pytest.importorskip(
    "lenstools", reason="LensTools 1.2 is only installed in the tox 'lenstools' environment"
)
u = pytest.importorskip("astropy.units")


def test_power_spectrum_and_minkowski_vs_lenstools_loop(benchmark):
    maps = generate(1024 if FULL else 128, seed=3)
    edges = default_ell_edges(256, 0.866)
    t = np.linspace(-0.05, 0.1, 26)

    def ours():
        power_spectrum(maps, 0.866, edges)
        minkowski(maps, t)

    def theirs():
        for m in maps:
            c = lenstools.ConvergenceMap(m, angle=0.866 * u.deg)
            c.powerSpectrum(edges)
            c.minkowskiFunctionals(t)

    t_theirs, t_ours = best_time(theirs, repeat=1), best_time(ours, repeat=2)
    ratio = t_theirs / t_ours
    benchmark.extra_info["ratio_vs_lenstools"] = ratio
    benchmark(ours)
    print(
        f"\npower spectrum + Minkowski: {ratio:.2f}x the LensTools loop ({len(maps)} maps of 256²: "
        f"{t_ours:.2f} s vs {t_theirs:.2f} s)"
    )
    if FULL:
        assert ratio >= 5.0
