"""GPU figures of scoring and loading; see bench/gpu.sh.

1. ``emubench score``'s work on the GPU at the issue's size: 6,400 generated vs 6,400 reference maps (and 6,400
   held-out, 6,400 training maps for memorisation, 51,200 fresh maps for the null), every registered metric,
   default floors and intervals; the wall time of each metric.
2. Power spectrum + Minkowski functionals on the GPU vs the same functions on this machine's CPU (a subset,
   scaled per map), a ratio measured in one run.
3. Random batches of 64 maps from a GPU-resident training split (what the trainer does on CUDA) vs the
   thesis's CosmoDataset reading the same maps from 15 .npy files and moving them to the GPU.
"""

import argparse
import json
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from thesis_loader import thesis_loader  # noqa: E402

from emubench.data import MapSet  # noqa: E402
from emubench.data.lognormal import generate  # noqa: E402
from emubench.io import write_json  # noqa: E402
from emubench.scoring import default_metrics, score  # noqa: E402
from emubench.stats import default_ell_edges, minkowski, power_spectrum  # noqa: E402

SIDE = 0.866


def timed(fn, device: str) -> float:
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    t0 = time.perf_counter()
    fn()
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--dry-run", action="store_true", help="CPU, 48 maps of 64²: checks that the script works")
    ap.add_argument("--n", type=int, default=6400, help="maps per set")
    ap.add_argument("--cpu-maps", type=int, default=256, help="maps timed on the CPU for the statistics ratio")
    ap.add_argument("--out-dir", default="bench", help="writes gpu-score.json there")
    args = ap.parse_args()
    if args.dry_run:
        device, n, npix, cpu_maps = "cpu", 48, 64, 16
    else:
        if not torch.cuda.is_available():
            raise SystemExit("no CUDA GPU: use --dry-run to check the script on a CPU")
        device, n, npix, cpu_maps = "cuda", args.n, 256, args.cpu_maps
    gen_t = time.perf_counter()
    sets = {
        name: generate(n, npix=npix, seed=seed, device=device)
        for name, seed in (("generated", 11), ("val", 12), ("test", 13), ("train", 14))
    }
    gen_t = time.perf_counter() - gen_t
    splits = {k: MapSet(sets[k], SIDE, f"lognormal:{k}") for k in ("train", "val", "test")}
    # the null's pool: fresh maps of the same generator, as on the embedded datasets (8n of them)
    splits["val"].fresh = lambda k, seed=0: generate(k, npix=npix, seed=1000 + seed, device=device)

    # 1. every metric at the size: one score call (the figure), then each metric alone (where it goes)
    total = timed(lambda: score(sets["generated"], splits, device=device), device)
    per_metric = {}
    for name in default_metrics(splits):  # every metric that applies to maps of one cosmology
        per_metric[name] = timed(
            lambda name=name: score(sets["generated"], splits, metrics=[name], device=device), device
        )

    # 2. statistics: GPU (all maps) vs CPU (a subset), per map
    edges, t = default_ell_edges(npix, SIDE), np.linspace(-0.05, 0.1, 26)

    def stats(maps):
        power_spectrum(maps, SIDE, edges)
        minkowski(maps, t)

    on_device = torch.from_numpy(np.concatenate([sets["generated"], sets["val"]])).to(device)
    stats(on_device[:8])  # warm-up: kernels, FFT plans
    dev_t = timed(lambda: stats(on_device), device)
    cpu_t = timed(lambda: stats(sets["val"][:cpu_maps]), "cpu")
    stats_ratio = (cpu_t / cpu_maps) / (dev_t / len(on_device))
    on_device = None  # frees the device memory before the loader test

    # 3. loader: GPU-resident batches vs the thesis's loader over 15 files
    with tempfile.TemporaryDirectory() as tmp:
        per_file = max(1, min(100, n // 15))
        files = []
        for i in range(15):
            np.save(Path(tmp) / f"maps_{i}.npy", sets["train"][i * per_file : (i + 1) * per_file, None])
            files.append(f"maps_{i}.npy")
        resident = torch.from_numpy(sets["train"][: 15 * per_file]).to(device)
        g = torch.Generator(device=device).manual_seed(0)
        batches = 10
        batch = min(64, len(resident) // batches)  # 64 at the real size; the dry run has fewer maps

        def ours():
            for _ in range(batches):
                resident[torch.randperm(len(resident), generator=g, device=device)[:batch]]

        def thesis():
            it = iter(thesis_loader(tmp, files, batch_size=batch))
            for _ in range(batches):
                next(it).to(device)

        ours()
        ours_t, thesis_t = min(timed(ours, device) for _ in range(3)), min(timed(thesis, device) for _ in range(3))

    result = {
        "device": torch.cuda.get_device_name(0) if device == "cuda" else platform.processor() or "cpu",
        "n_per_set": n,
        "npix": npix,
        "generate_s": gen_t,
        "score_s": total,
        "score_s_per_metric": per_metric,
        "ps_mf_maps": 2 * n,
        "ps_mf_device_s": dev_t,
        "ps_mf_cpu_s_per_map": cpu_t / cpu_maps,
        "ps_mf_device_vs_cpu": stats_ratio,
        "loader_resident_ms_per_batch": ours_t / batches * 1e3,
        "loader_thesis_ms_per_batch": thesis_t / batches * 1e3,
        "loader_batch": batch,
        "loader_ratio": thesis_t / ours_t,
        "dry_run": args.dry_run,
        "torch": torch.__version__,
    }
    write_json(Path(args.out_dir) / "gpu-score.json", result)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
