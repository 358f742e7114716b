"""Shared helpers of the benchmarks."""

import os
import time

# Issue-sized problems when EMUBENCH_BENCH_FULL=1 (tox -e bench); small ones in the default test run.
FULL = os.environ.get("EMUBENCH_BENCH_FULL") == "1"


def best_time(fn, repeat: int = 3) -> float:
    """Best wall time of ``repeat`` calls: the two implementations of a ratio are timed the same way."""
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def compare_with_minkowski(benchmark, ours, maps, label: str, repeat: int = 5) -> float:
    """Time ``ours`` against the Minkowski functionals (the metric's 25 thresholds) on the same maps, in one run:
    ``repeat`` rounds of one call each, alternating, and the best time of each (a round in which the shared
    machine was busy, or the first, which compiles, is not the best). Record the ratio, benchmark ``ours`` and,
    under tox -e bench, assert the statistics issue's limit of twice their time. Returns the ratio."""
    from emubench.metrics.curves import MF_NU
    from emubench.stats import minkowski

    if benchmark.disabled:  # --benchmark-disable (the default suite): run ours once, for correctness; no ratio
        benchmark(ours)
        return float("nan")
    theirs = lambda: minkowski(maps, MF_NU * maps.std())  # noqa: E731
    rounds = [(best_time(ours, repeat=1), best_time(theirs, repeat=1)) for _ in range(repeat)]
    ratio = min(r[0] for r in rounds) / min(r[1] for r in rounds)
    benchmark.extra_info["ratio_vs_minkowski"] = ratio
    benchmark(ours)
    print(f"\n{label}: {ratio:.2f}x the Minkowski functionals' time ({len(maps)} maps of {maps.shape[-1]}²)")
    if FULL:
        assert ratio <= 2.0
    return ratio
