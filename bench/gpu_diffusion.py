"""Measure kappa-diffusion on a GPU with its real trainer and sampler: training maps/s of the 256² Diffusion-HMC
recipe (preset ``hmc``) and sampling maps/s with DDIM at the preset's steps; see bench/gpu.sh."""

import argparse
import json
import platform
import tempfile
import time
from pathlib import Path

import torch
from kappa_diffusion.model import KappaDiffusion
from kappa_diffusion.trainer import DiffusionTrainer

from emubench import RunFolder, TrainRequest
from emubench.data import open_dataset, split
from emubench.io import write_json


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--dry-run", action="store_true", help="CPU, 64² maps, a tiny U-Net, a few steps")
    ap.add_argument("--steps", type=int, default=200, help="optimiser steps (the last logging interval is timed)")
    ap.add_argument("--n-maps", type=int, default=4096, help="maps in the generated dataset")
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--sample-maps", type=int, default=256, help="maps sampled for the sampling rate")
    ap.add_argument("--out-dir", default="bench", help="writes gpu-diffusion.json there")
    args = ap.parse_args()
    if args.dry_run:
        device, steps, ds_opts, n_sample = "cpu", 4, dict(npix=64, n_maps=300), 4
        extra = dict(channels=[8, 16], layers_per_block=1, groups=4, attention=False, sample_steps=2)
    else:
        if not torch.cuda.is_available():
            raise SystemExit("no CUDA GPU: use --dry-run to check the script on a CPU")
        device, steps, ds_opts, n_sample, extra = "cuda", args.steps, dict(n_maps=args.n_maps), args.sample_maps, {}
    mapset = open_dataset("lognormal-lcdm", **ds_opts)
    trainer = DiffusionTrainer()
    cfg = trainer.make_config(
        "hmc",
        {
            "max_steps": steps,
            "log_every": max(1, steps // 2),
            "ckpt_every": 10**9,
            "val_maps": 16,
            "val_steps": 2,
            "batch_size": args.batch_size,
            **extra,
        },
    )
    with tempfile.TemporaryDirectory() as tmp:
        request = TrainRequest("kappa-diffusion", split(mapset, 0), mapset, 0, cfg, Path(tmp) / "run", device=device)
        run = trainer.train(request)
        logs = [json.loads(x) for x in (run / "log.jsonl").read_text().splitlines() if '"loss"' in x]
        model = KappaDiffusion.from_run(run, RunFolder.open(run).manifest, device=device)
        model.sample(min(n_sample, 8), seed=1)  # warm-up: kernels chosen, memory allocated
        if device == "cuda":
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
        t0 = time.perf_counter()
        model.sample(n_sample, seed=2, batch=64)
        sample_s = time.perf_counter() - t0
    result = {
        "train_maps_per_s": logs[-1]["maps_per_s"],  # the last logging interval: warm-up excluded
        "sample_maps_per_s": n_sample / sample_s,
        "sampling": model.sampling,
        "sample_peak_memory_mb": torch.cuda.max_memory_allocated() / 2**20 if device == "cuda" else None,
        "parameters": model.n_parameters,
        "device": torch.cuda.get_device_name(0) if device == "cuda" else platform.processor() or "cpu",
        "npix": mapset.npix,
        "batch_size": args.batch_size,
        "steps": steps,
        "bf16": device == "cuda",
        "dry_run": args.dry_run,
        "torch": torch.__version__,
    }
    write_json(Path(args.out_dir) / "gpu-diffusion.json", result)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
