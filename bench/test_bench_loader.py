"""Random batches from multi-file CosmoGAN-format data: our memory-mapped loader vs the thesis's CosmoDataset,
and vs the memory-bandwidth ceiling.

Both loaders read the same 15 .npy files; the thesis reopens a file for every map. Every loader must copy the
batch's maps out of the page cache, so a third timing gives the ceiling: the same random maps gathered from one
in-memory array by a single multi-threaded ``torch.index_select`` into a preallocated batch, with no file
handling at all. The thesis loader's time over that ceiling is the most any loader can gain on this machine.

Measured in this repository (2-core CPU, FULL sizes, three runs): at 256² the thesis loader takes 14–15.6 ms per
batch of 64, ours 1.3–1.5 ms (10–11.5×), the bare copy 1.03–1.06 ms (ceiling 13–15×); at 64², 6.2–7.2 ms,
0.18–0.20 ms (32–35×), 0.06–0.075 ms (ceiling 90–100×). The issue's 50× therefore exceeds this machine's memory
bandwidth at 256²; see the README.
"""

import numpy as np
import pytest
import torch
from benchutil import FULL, best_time
from thesis_loader import thesis_loader

from emubench.data.files import open_npy_maps

# npix, maps per file, asserted ratio to the thesis loader, allowed time over the bare copy. At 64² a batch
# is 1 MB and ours pays a Python-level copy per map (maps spread over 15 files cannot be gathered by one call).
CASES = [(256, 100 if FULL else 50, 5.0, 1.5), (64, 400 if FULL else 100, 20.0, 4.0)]
BATCHES, BATCH = 10, 64


@pytest.mark.parametrize("npix, per_file, target, over_bare", CASES)
def test_random_batches_vs_thesis_loader(benchmark, tmp_path, npix, per_file, target, over_bare):
    rng = np.random.default_rng(0)
    files, parts = [], []
    for i in range(15):
        parts.append(rng.random((per_file, 1, npix, npix), dtype=np.float32))
        np.save(tmp_path / f"maps_{i}.npy", parts[-1])
        files.append(f"maps_{i}.npy")
    ours = open_npy_maps(tmp_path, check=False)
    in_memory = torch.from_numpy(np.concatenate(parts)[:, 0])
    batch = torch.empty((BATCH, npix, npix))

    def draw() -> np.ndarray:
        return np.sort(rng.choice(len(ours), BATCH, replace=False))

    def ours_run():
        for _ in range(BATCHES):
            torch.from_numpy(ours.get(draw()))

    def bare_copy():
        for _ in range(BATCHES):
            torch.index_select(in_memory, 0, torch.from_numpy(draw()), out=batch)

    def thesis_run():
        it = iter(thesis_loader(str(tmp_path), files))
        for _ in range(BATCHES):
            next(it)

    thesis_t, ours_t, bare_t = best_time(thesis_run), best_time(ours_run, 5), best_time(bare_copy, 5)
    ratio = thesis_t / ours_t
    benchmark.extra_info.update(ratio_vs_thesis=ratio, ceiling_vs_thesis=thesis_t / bare_t)
    benchmark(ours_run)
    print(
        f"\n{npix}²: per batch of {BATCH}: thesis {thesis_t / BATCHES * 1e3:.2f} ms, "
        f"ours {ours_t / BATCHES * 1e3:.3f} ms "
        f"({ratio:.1f}x), bare copy {bare_t / BATCHES * 1e3:.3f} ms (ceiling {thesis_t / bare_t:.1f}x)"
    )
    if FULL:  # ratios are asserted in tox -e bench only: the default suite runs on shared, noisy machines
        assert ratio >= target, f"only {ratio:.1f}x faster than the thesis loader at {npix}²"
    # Close to the ceiling: what is left above a bare copy is index arithmetic and the per-file calls.
    if FULL:  # ratios are asserted in tox -e bench only: the default suite runs on shared, noisy machines
        assert ours_t <= over_bare * bare_t, (
            f"{ours_t / bare_t:.1f}x slower than a bare copy of the same maps at {npix}²"
        )
