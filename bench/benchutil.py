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
