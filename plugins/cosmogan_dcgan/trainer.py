"""Training loop of the reference DCGAN, top to bottom (in the spirit of nanoGPT's train.py).

1. setup: config, device, run folder (locked), manifest; 2. data: the training split, resident on the GPU
when it fits, streamed from the memory-mapped dataset on CPU; 3. model and optimisers (or the state of the
last good checkpoint with --resume); 4. the step: discriminator, then generator, on random batches under the
8 symmetries of the square; 5. every epoch: validation with the scoring code (pixel KS and power spectrum
against the validation split), sample grid, checkpoint, best checkpoint; 6. logging every N steps.

Label flipping is per sample: each real and each fake label in a batch flips independently with
probability ``flip`` (0.03 in the thesis, 0.01 in CosmoGAN).
Data order is a function of (seed, epoch), and the latent/flip/augmentation RNG state is checkpointed, so a
resumed run repeats an uninterrupted one step for step (on CPU).
"""

from __future__ import annotations

import json
import math
import os
import signal
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
import torch.nn.functional as F

from emubench.checkpoint import (RunLock, environment, load_checkpoint, read_manifest, save_checkpoint,
                                 verified_checkpoints, write_manifest)
from emubench.data.augment import random_symmetries
from emubench.data.transforms import get_transform
from emubench.devices import fast_bf16
from emubench.errors import EmubenchError

from .model import DCGANConfig, Discriminator, Generator, init_weights

THESIS_SCHEDULE = [(30, 2e-5), (5, 5e-6), (5, 2e-6), (5, 1e-6), (5, 5e-7)]  # (epochs, lr), thesis section 5.1

DEFAULTS: dict[str, Any] = dict(
    dataset="lognormal-lcdm",  # used when no --dataset/--data is given
    latent=64, width=64, layers=4,
    batch_size=64,
    epochs=50,
    lr=2e-4,                   # constant lr unless a schedule is given
    schedule=None,             # list of [epochs, lr]; overrides lr epoch by epoch
    beta1=0.5, beta2=0.999,
    flip=0.03,                 # per-sample label flip probability
    augment=True,              # random D4 symmetry per real map
    transform="cosmogan",      # training units; a, shift fitted from the training split unless given
    transform_a=None, transform_shift=None,
    max_steps=None,
    ckpt_every=1000,           # steps between checkpoints (plus one at every epoch end)
    keep_last=3,               # step checkpoints kept besides the best one
    log_every=50,
    val_maps=256,              # maps used by the per-epoch validation check
    early_stop=0,              # stop after this many epochs without a better validation score (0: off)
    amp="auto",                # bf16 autocast: "auto" where bf16 is fast (CUDA; CPUs with AMX), or true/false
    channels_last=True,        # NHWC activations (faster convolutions on CUDA and, measured ~8%, on CPU)
    compile=False,             # torch.compile the two networks
    gpu_resident=True,         # keep the whole training split on the GPU when it fits
    seed=0,
)

PRESETS: dict[str, dict[str, Any]] = {
    # The thesis's final recipe: lr 2e-5 for 30 epochs, then 5 epochs each at 5e-6, 2e-6, 1e-6, 5e-7; flip 3%.
    "thesis": dict(epochs=50, schedule=THESIS_SCHEDULE, lr=2e-5, flip=0.03),
    # CosmoGAN's recipe: constant 2e-4, 45 epochs, flip 1%.
    "cosmogan": dict(epochs=45, lr=2e-4, flip=0.01),
    # CPU-sized: 64² maps over 0.866°, width 32. Trains on 2 CPU cores in a few minutes and visibly learns.
    # lr 1e-4: at 2e-4 the validation KS statistic swung between 0.04 and 0.23 from epoch to epoch (the thesis,
    # too, found CosmoGAN's 2e-4 unstable); at 1e-4 the power spectrum improved every epoch.
    "smoke": dict(dataset="lognormal-lcdm-64", width=32, epochs=6, lr=1e-4, flip=0.03, val_maps=256,
                  ckpt_every=200, log_every=25),
}


class DCGANTrainer:
    """Trains cosmogan-dcgan: non-saturating BCE GAN loss, Adam(β1=0.5), per-sample label flips, presets."""

    name = "cosmogan-dcgan-trainer"
    description = "GAN trainer for cosmogan-dcgan (presets: smoke, thesis, cosmogan); GPU-resident data, bf16, DDP via torchrun"
    models = ("cosmogan-dcgan",)
    presets = PRESETS
    default_preset = "thesis"

    def make_config(self, preset: str | None, overrides: dict[str, Any]) -> dict[str, Any]:
        preset = preset or self.default_preset
        if preset not in PRESETS:
            raise EmubenchError(f"unknown preset {preset!r} for cosmogan-dcgan (known: {', '.join(PRESETS)})")
        unknown = set(overrides) - set(DEFAULTS)
        if unknown:
            raise EmubenchError(f"unknown config key(s) {', '.join(sorted(unknown))} (known: {', '.join(DEFAULTS)})")
        cfg = {**DEFAULTS, **PRESETS[preset], **overrides, "preset": preset}
        for key in ("batch_size", "epochs", "log_every", "ckpt_every", "val_maps"):
            if int(cfg[key]) <= 0:
                raise EmubenchError(f"config {key} must be positive, got {cfg[key]}")
        if cfg["amp"] not in ("auto", True, False):
            raise EmubenchError(f"config amp must be auto, true or false, got {cfg['amp']!r}")
        if not 0 <= float(cfg["flip"]) < 0.5:
            raise EmubenchError(f"config flip must be in [0, 0.5), got {cfg['flip']}")
        return cfg

    def train(self, **kw) -> Path:
        return train(**kw)


def plugin_version() -> str:
    """The version of the distribution that ships this plugin (emubench itself for the reference plugin)."""
    import importlib.metadata

    try:
        return importlib.metadata.version("emubench")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def lr_at(cfg: dict, epoch: int) -> float:
    if not cfg.get("schedule"):
        return float(cfg["lr"])
    done = 0
    for n_epochs, lr in cfg["schedule"]:
        done += n_epochs
        if epoch < done:
            return float(lr)
    return float(cfg["schedule"][-1][1])


def fit_transform(cfg: dict, train_maps) -> dict:
    """Transform parameters: CosmoGAN's s(x) with a shift that makes κ positive and a so the median maps to 0."""
    if cfg["transform"] == "identity":
        return {"name": "identity", "params": {}}
    sample = train_maps.get(slice(0, min(len(train_maps), 512)))
    shift = cfg["transform_shift"]
    if shift is None:
        shift = max(0.0, -float(sample.min())) * 1.5
    a = cfg["transform_a"]
    if a is None:
        a = float(np.median(sample + shift))
    return {"name": cfg["transform"], "params": {"a": float(a), "shift": float(shift)}}


def save_grid(path: Path, maps: np.ndarray) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from emubench.io import atomic_path

    k = int(math.ceil(math.sqrt(len(maps))))
    fig, axes = plt.subplots(k, k, figsize=(1.5 * k, 1.5 * k))
    lo, hi = np.percentile(maps, [1, 99.5])
    for ax, m in zip(axes.ravel(), maps):
        ax.imshow(m, vmin=lo, vmax=hi, cmap="magma")
    for ax in axes.ravel():
        ax.set_axis_off()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=70, bbox_inches="tight")
    plt.close(fig)


def validate(generator, transform, splits, cfg, device, seed: int) -> dict[str, float]:
    """Pixel KS and power-spectrum deviation against the validation split, with the scoring code and its floors.

    ``ps_dev`` is the RMS over ℓ bins of log(mean generated C_ℓ / mean real C_ℓ); ``ps_chi2`` the χ²/dof.
    """
    from emubench.io import failpoint
    from emubench.scoring import score

    failpoint("validation")  # the reliability tests kill training here
    n = min(cfg["val_maps"], len(splits["val"]), len(splits["test"]))
    was_training = generator.training
    generator.eval()
    with torch.no_grad():
        z = torch.randn(n, generator.cfg.latent, generator=torch.Generator(device=device).manual_seed(seed), device=device)
        maps = transform.inverse(generator(z)[:, 0].float().clamp(-1 + 1e-6, 1 - 1e-6)).cpu().numpy()
    generator.train(was_training)
    if not np.isfinite(maps).all():
        return {"ks_D": float("inf"), "ks_floor": float("nan"), "ps_dev": float("inf"), "ps_dev_floor": float("nan"),
                "ps_chi2": float("inf"), "score": float("inf")}
    # a re-split null: a ranking of checkpoints needs no fresh pool (scoring uses one)
    df, _ = score(maps, splits, metrics=["pixel-ks", "power-spectrum"], n=n, seed=seed, floor_draws=200, bootstrap_draws=0,
                  device="cpu", null="permutation")
    ks = df[(df.metric == "pixel-ks") & (df.statistic == "D")].iloc[0]
    ps = df[(df.metric == "power-spectrum") & (df.statistic == "rms-log-ratio")].iloc[0]
    chi2 = df[(df.metric == "power-spectrum") & (df.statistic == "chi2-dof")].iloc[0]
    # One number to rank checkpoints: how many floors away the worse of the two is (lower is better).
    s = max(ks.value / max(ks.floor, 1e-12), ps.value / max(ps.floor, 1e-12))
    return {"ks_D": float(ks.value), "ks_floor": float(ks.floor), "ps_dev": float(ps.value), "ps_dev_floor": float(ps.floor),
            "ps_chi2": float(chi2.value), "score": float(s)}


class Stop:
    """Set by SIGINT/SIGTERM; the loop checks it between steps, writes a checkpoint and returns."""

    def __init__(self):
        self.flag = False
        self.old = {}

    def __enter__(self):
        for sig in (signal.SIGINT, signal.SIGTERM):
            try:
                self.old[sig] = signal.signal(sig, self._handle)
            except ValueError:  # not the main thread
                pass
        return self

    def _handle(self, signum, frame):
        self.flag = True

    def __exit__(self, *exc):
        for sig, h in self.old.items():
            signal.signal(sig, h)


def train(*, model: str, splits: dict, mapset, split_seed: int, config: dict, out: Path, resume: bool, device: str,
          quiet: bool = False) -> Path:
    # 1. setup --------------------------------------------------------------------------------------
    out = Path(out)
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    ddp = world > 1
    if ddp:
        if device.startswith("cuda"):
            device = f"cuda:{int(os.environ.get('LOCAL_RANK', '0'))}"
            torch.cuda.set_device(device)
        dist.init_process_group(backend="nccl" if device.startswith("cuda") else "gloo")
    master = rank == 0
    log = (lambda msg: print(f"[train] {msg}", flush=True)) if (master and not quiet) else (lambda msg: None)
    if not resume and (out / "manifest.json").exists():
        raise EmubenchError(f"{out}: already holds a run; use --resume to continue it or choose another --out")
    if resume and not (out / "manifest.json").exists():
        raise EmubenchError(f"{out}: nothing to resume (no manifest.json)")
    fresh = not out.exists()
    lock = RunLock(out) if master else None
    if lock:
        lock.__enter__()
    try:
        return _train(model, splits, mapset, split_seed, config, out, resume, device, log, ddp, rank, world, master)
    except BaseException:
        if master and fresh and {p.name for p in out.iterdir()} <= {".lock"}:
            lock.__exit__(None, None, None)
            lock = None
            import shutil

            shutil.rmtree(out, ignore_errors=True)  # failed before writing anything: leave no empty run folder
        raise
    finally:
        if lock:
            lock.__exit__(None, None, None)
        if ddp:
            import gc

            # DDP wrappers sit in reference cycles; collect them (and the gloo work they hold) while the
            # group is alive, or their gloo threads are torn down at interpreter exit and abort the process.
            gc.collect()
            dist.destroy_process_group()


def _train(model_name, splits, mapset, split_seed, cfg, out, resume, device, log, ddp, rank, world, master) -> Path:
    train_set = splits["train"]
    if resume:
        manifest = read_manifest(out)
        # The run's own config wins; only the budget can be extended on resume.
        cfg = {**manifest["train_config"], **{k: cfg[k] for k in ("epochs", "max_steps") if cfg.get(k) is not None}}
        if manifest["dataset"].get("hash") != mapset.content_hash():
            raise EmubenchError(f"{out}: the dataset differs from the one this run was trained on (hash mismatch)")
    model_cfg = DCGANConfig(npix=train_set.npix, latent=cfg["latent"], width=cfg["width"], layers=cfg["layers"])
    torch.manual_seed(cfg["seed"])
    cuda = device.startswith("cuda")

    # 2. data -----------------------------------------------------------------------------------------
    tinfo = manifest["transform"] if resume else fit_transform(cfg, train_set)
    transform = get_transform(tinfo["name"], **tinfo["params"])
    n_train = len(train_set)
    bs = cfg["batch_size"]
    local_bs = max(1, bs // world)
    steps_per_epoch = max(1, n_train // bs)
    resident = None
    if cuda and cfg["gpu_resident"]:
        need = n_train * train_set.npix**2 * 4
        free, _ = torch.cuda.mem_get_info()
        if need < 0.5 * free:
            resident = torch.empty((n_train, 1, train_set.npix, train_set.npix), dtype=torch.float32, device=device)
            for s in range(0, n_train, 4096):
                chunk = torch.from_numpy(train_set.get(slice(s, min(n_train, s + 4096))))
                resident[s : s + len(chunk), 0] = transform.forward(chunk.to(device))
            log(f"training split resident on {device}: {n_train} maps, {need / 2**30:.2f} GiB")

    def batch_at(step: int) -> torch.Tensor:
        # The data order is a pure function of (seed, epoch): nothing to save, identical after a resume.
        epoch, b = divmod(step, steps_per_epoch)
        perm = torch.randperm(n_train, generator=torch.Generator().manual_seed(cfg["seed"] * 100_003 + epoch))
        idx = perm[b * bs : (b + 1) * bs][rank * local_bs : (rank + 1) * local_bs]
        if resident is not None:
            return resident[idx.to(device)]
        maps = torch.from_numpy(train_set.get(np.sort(idx.numpy())))
        return transform.forward(maps).unsqueeze(1).to(device, non_blocking=True)

    # 3. model and optimisers ---------------------------------------------------------------------------
    G, D = Generator(model_cfg).to(device), Discriminator(model_cfg).to(device)
    G.apply(init_weights)
    D.apply(init_weights)
    opt_g = torch.optim.Adam(G.parameters(), lr=lr_at(cfg, 0), betas=(cfg["beta1"], cfg["beta2"]))
    opt_d = torch.optim.Adam(D.parameters(), lr=lr_at(cfg, 0), betas=(cfg["beta1"], cfg["beta2"]))
    rng = torch.Generator(device=device).manual_seed(cfg["seed"] * 7919 + rank)
    step, best = 0, None
    if resume and not manifest.get("checkpoints"):
        # Killed before its first checkpoint: nothing was saved, so the run starts again from step 0.
        log("no checkpoint was written before the run stopped; starting it again from step 0")
    elif resume:
        good = verified_checkpoints(out, manifest)
        if not good:
            raise EmubenchError(f"{out}: no complete checkpoint to resume from (all recorded checkpoints are corrupt)")
        # the newest complete checkpoint ('best' only if it is the newest: it holds the same full state)
        name = max(good, key=lambda g: (manifest["checkpoints"][g]["step"], g != "best"))
        if manifest.get("latest") != name:
            log(f"latest checkpoint {manifest.get('latest')!r} is incomplete or corrupt; resuming from {name!r}")
        state = load_checkpoint(out, manifest, name)
        G.load_state_dict(state["generator"])
        D.load_state_dict(state["discriminator"])
        opt_g.load_state_dict(state["opt_g"])
        opt_d.load_state_dict(state["opt_d"])
        rng.set_state(state["rng"][rank] if isinstance(state["rng"], list) else state["rng"])
        step = int(state["step"])
        best = manifest.get("best_score")
        log(f"resumed from {name} at step {step}")
    if not resume:
        manifest = {
            "model": model_name, "model_config": asdict(model_cfg), "trainer": DCGANTrainer.name,
            "plugin": {"name": "cosmogan-dcgan", "version": plugin_version()},
            "train_config": cfg, "transform": tinfo,
            "dataset": {"name": mapset.name, "options": mapset.meta.get("options", {}), "files": mapset.meta.get("files"),
                        "hash": mapset.content_hash(), "side_deg": mapset.side_deg, "npix": mapset.npix,
                        "n_maps": len(mapset), "split_seed": split_seed},
            "seed": cfg["seed"], "device": device, "world_size": world, "environment": environment(),
            # resolved once, so a resumed run keeps its precision even on other hardware
            "amp_bf16": fast_bf16(device) if cfg["amp"] == "auto" else bool(cfg["amp"]),
        }
        if master:
            out.mkdir(parents=True, exist_ok=True)
            write_manifest(out, manifest)
    if cfg["channels_last"]:
        G, D = G.to(memory_format=torch.channels_last), D.to(memory_format=torch.channels_last)
    Gm, Dm = G, D  # unwrapped modules: what checkpoints store, so a DDP run loads in one process
    if ddp:
        from torch.nn.parallel import DistributedDataParallel as DDP

        G = DDP(G, device_ids=[torch.device(device).index] if cuda else None, broadcast_buffers=False)
        D = DDP(D, device_ids=[torch.device(device).index] if cuda else None, broadcast_buffers=False)
    if cfg["compile"]:
        G, D = torch.compile(G), torch.compile(D)
    amp_bf16 = manifest.get("amp_bf16", cuda and cfg["amp"] is not False)  # older runs: bf16 on CUDA only
    amp = torch.autocast("cuda" if cuda else "cpu", dtype=torch.bfloat16, enabled=bool(amp_bf16))
    total_steps = cfg["epochs"] * steps_per_epoch
    if cfg.get("max_steps"):
        total_steps = min(total_steps, int(cfg["max_steps"]))
    fixed_z = torch.randn(16, model_cfg.latent, generator=torch.Generator().manual_seed(12345)).to(device)

    def rng_states():
        """Every rank's RNG state (a collective under DDP: all ranks call it at the same step)."""
        if not ddp:
            return rng.get_state()
        states = [None] * world
        dist.all_gather_object(states, rng.get_state())
        return states

    def checkpoint(name: str, info: dict, rngs) -> None:
        state = {"generator": Gm.state_dict(), "discriminator": Dm.state_dict(), "opt_g": opt_g.state_dict(),
                 "opt_d": opt_d.state_dict(), "rng": rngs, "step": step}
        save_checkpoint(out, manifest, name, state, {"step": step, **info})
        # Keep the newest keep_last step checkpoints (and 'best'); the manifest is updated before any delete.
        steps = sorted((n for n in manifest["checkpoints"] if n.startswith("step-")), key=lambda n: manifest["checkpoints"][n]["step"])
        for old in steps[: -cfg["keep_last"]]:
            entry = manifest["checkpoints"].pop(old)
            write_manifest(out, manifest)
            (out / entry["file"]).unlink(missing_ok=True)

    log_path = out / "log.jsonl"
    if master and not resume:
        log_path.write_text("")
    if master and resume and log_path.exists():
        # Drop log lines written after the checkpoint we resumed from, so the log matches the run.
        kept = [ln for ln in log_path.read_text().splitlines() if ln and json.loads(ln).get("step", 0) <= step]
        log_path.write_text("".join(k + "\n" for k in kept))
    log(f"{model_name} {model_cfg.npix}² width {model_cfg.width}, {sum(p.numel() for p in Gm.parameters()) / 1e6:.2f}M G params, "
        f"{n_train} training maps, {steps_per_epoch} steps/epoch, {total_steps} steps on {device}" + (f" × {world} ranks" if ddp else ""))

    # 4. the loop ---------------------------------------------------------------------------------------
    acc = torch.zeros(4, device=device)  # loss_d, loss_g, real score, fake score (summed; read only when logging)
    t0, t_last, acc_n, stale = time.perf_counter(), time.perf_counter(), 0, 0
    with Stop() as stop:
        while step < total_steps:
            epoch = step // steps_per_epoch
            lr = lr_at(cfg, epoch)
            for opt in (opt_g, opt_d):
                for group in opt.param_groups:
                    group["lr"] = lr
            real = batch_at(step)
            if cfg["augment"]:
                real = random_symmetries(real, rng)
            if cfg["channels_last"]:
                real = real.contiguous(memory_format=torch.channels_last)
            b = real.shape[0]
            z = torch.randn(b, model_cfg.latent, generator=rng, device=device)
            flip_r = (torch.rand(b, 1, generator=rng, device=device) < cfg["flip"]).float()
            flip_f = (torch.rand(b, 1, generator=rng, device=device) < cfg["flip"]).float()
            # 4a. discriminator: real → 1, fake → 0, each label flipped with probability `flip`
            with amp:
                fake = G(z)
                d_real = D(real).float()
                d_fake = D(fake.detach()).float()
                loss_d = F.binary_cross_entropy_with_logits(d_real, 1 - flip_r) + F.binary_cross_entropy_with_logits(d_fake, flip_f)
            opt_d.zero_grad(set_to_none=True)
            loss_d.backward()
            opt_d.step()
            # 4b. generator: non-saturating loss on the same fake batch (one G forward per step)
            with amp:
                loss_g = F.binary_cross_entropy_with_logits(D(fake).float(), torch.ones_like(d_fake))
            opt_g.zero_grad(set_to_none=True)
            loss_g.backward()
            opt_g.step()
            step += 1
            acc += torch.stack([loss_d.detach(), loss_g.detach(), torch.sigmoid(d_real.detach()).mean(), torch.sigmoid(d_fake.detach()).mean()])
            acc_n += 1

            # 6. logging: the only host synchronisation in the loop
            if step % cfg["log_every"] == 0 or step == total_steps:
                vals = (acc / max(acc_n, 1)).tolist()
                acc.zero_(); acc_n = 0
                now = time.perf_counter()
                rate = cfg["log_every"] * bs / max(now - t_last, 1e-9)
                t_last = now
                if not all(math.isfinite(v) for v in vals):
                    raise EmubenchError(f"training diverged at step {step} (non-finite loss); resume from an earlier checkpoint with a lower lr")
                if master:
                    rec = {"step": step, "epoch": epoch, "lr": lr, "loss_d": vals[0], "loss_g": vals[1],
                           "real_score": vals[2], "fake_score": vals[3], "maps_per_s": rate, "time_s": now - t0}
                    with open(log_path, "a") as f:
                        f.write(json.dumps(rec) + "\n")
                    eta = (total_steps - step) * bs / max(rate, 1e-9)
                    log(f"step {step}/{total_steps} epoch {epoch} loss_d {vals[0]:.3f} loss_g {vals[1]:.3f} "
                        f"D(x) {vals[2]:.2f} D(G(z)) {vals[3]:.2f} {rate:.0f} maps/s ETA {eta:.0f}s")

            if ddp:
                # any rank's interrupt stops all ranks at the same step
                f = torch.tensor([float(stop.flag)], device=device)
                dist.all_reduce(f)
                stop.flag = bool(f.item() > 0)
            end_of_epoch = step % steps_per_epoch == 0 or step == total_steps
            # 5. validation, sample grid and checkpoints (the decision is the same on every rank)
            rngs = rng_states() if (end_of_epoch or step % cfg["ckpt_every"] == 0 or stop.flag) else None
            if end_of_epoch and master:
                v = validate(Gm, transform, splits, cfg, device, seed=cfg["seed"] + 1)
                with torch.no_grad():
                    was = Gm.training
                    Gm.eval()
                    grid = transform.inverse(Gm(fixed_z)[:, 0].float().clamp(-1 + 1e-6, 1 - 1e-6)).cpu().numpy()
                    Gm.train(was)
                save_grid(out / "samples" / f"epoch-{epoch:03d}.png", grid)
                with open(log_path, "a") as f:
                    f.write(json.dumps({"step": step, "epoch": epoch, "validation": v}) + "\n")
                log(f"epoch {epoch} validation: KS D {v['ks_D']:.4f} (floor {v['ks_floor']:.4f}), "
                    f"P(ℓ) rms log ratio {v['ps_dev']:.3f} (floor {v['ps_dev_floor']:.3f}), χ²/dof {v['ps_chi2']:.1f}")
                improved = best is None or v["score"] < best
                checkpoint(f"step-{step:07d}", {"epoch": epoch, "validation": v}, rngs)
                if improved:
                    best = v["score"]
                    stale = 0
                    manifest["best_score"] = best
                    checkpoint("best", {"epoch": epoch, "validation": v}, rngs)
                    manifest["best"] = "best"
                    manifest["latest"] = f"step-{step:07d}"
                    write_manifest(out, manifest)
                else:
                    stale += 1
            elif rngs is not None and master:
                checkpoint(f"step-{step:07d}", {"epoch": epoch}, rngs)
            if ddp and end_of_epoch:
                s = torch.tensor([float(stale)], device=device)
                dist.broadcast(s, 0)  # early stopping is decided by rank 0's validation, for all ranks
                stale = int(s.item())
            if stop.flag:
                log(f"interrupted at step {step}: checkpoint written; continue with --resume")
                break
            if cfg["early_stop"] and stale >= cfg["early_stop"]:
                log(f"early stop: no better validation score for {stale} epochs")
                break
    if ddp:
        # Prove the ranks stayed in sync: every rank's generator parameters must sum to the same value.
        local = torch.stack([p.detach().double().sum() for p in Gm.parameters()]).sum().reshape(1)
        sums = [torch.zeros_like(local) for _ in range(world)]
        dist.all_gather(sums, local)
        if master:
            manifest["ddp_parameter_checksums"] = [float(s.item()) for s in sums]
            write_manifest(out, manifest)
    return out
