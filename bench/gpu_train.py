"""Measure training maps/s of cosmogan-dcgan with the real trainer; see bench/gpu.sh."""

import argparse
import json
import platform
import tempfile
from pathlib import Path

import torch

from cosmogan_dcgan.trainer import DCGANTrainer
from emubench import TrainRequest
from emubench.data import open_dataset, split
from emubench.io import write_json


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--dry-run", action="store_true", help="CPU, 64² maps, width 8, a few steps")
    ap.add_argument("--steps", type=int, default=400, help="optimiser steps (the second half is timed)")
    ap.add_argument("--n-maps", type=int, default=16384, help="maps in the generated dataset")
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--compile", action="store_true", help="also torch.compile the networks")
    ap.add_argument("--out-dir", default="bench", help="writes gpu-train.json there")
    args = ap.parse_args()
    if args.dry_run:
        device, steps, ds_opts, extra = "cpu", 4, dict(npix=64, n_maps=300), dict(width=8)
    else:
        if not torch.cuda.is_available():
            raise SystemExit("no CUDA GPU: use --dry-run to check the script on a CPU")
        device, steps, ds_opts, extra = "cuda", args.steps, dict(n_maps=args.n_maps), {}
    mapset = open_dataset("lognormal-lcdm", **ds_opts)
    trainer = DCGANTrainer()
    cfg = trainer.make_config(
        "thesis",
        {
            "max_steps": steps,
            "log_every": max(1, steps // 2),
            "ckpt_every": 10**9,
            "val_maps": 64,
            "batch_size": args.batch_size,
            "compile": args.compile,
            **extra,
        },
    )
    with tempfile.TemporaryDirectory() as tmp:
        run = trainer.train(
            TrainRequest(
                model="cosmogan-dcgan",
                splits=split(mapset, 0),
                mapset=mapset,
                split_seed=0,
                config=cfg,
                out=Path(tmp) / "run",
                resume=False,
                device=device,
                quiet=True,
            )
        )
        logs = [json.loads(x) for x in (run / "log.jsonl").read_text().splitlines() if "loss_d" in x]
    result = {
        "maps_per_s": logs[-1]["maps_per_s"],  # the last logging interval: warm-up and compilation excluded
        "device": torch.cuda.get_device_name(0) if device == "cuda" else platform.processor() or "cpu",
        "npix": mapset.npix,
        "batch_size": args.batch_size,
        "steps": steps,
        "bf16": device == "cuda",
        "compile": args.compile,
        "dry_run": args.dry_run,
        "torch": torch.__version__,
    }
    write_json(Path(args.out_dir) / "gpu-train.json", result)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
