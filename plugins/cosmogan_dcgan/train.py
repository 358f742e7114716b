"""Training loop of the reference DCGAN, top to bottom (in the spirit of nanoGPT's train.py).

1. setup: config, the distributed record, the run folder (locked) and its manifest; 2. data: the training
split, resident on the GPU when it fits, streamed from the memory-mapped dataset on CPU; 3. model and
optimisers (or the state of the newest good checkpoint with --resume); 4. the step: discriminator, then
generator, on random batches under the 8 symmetries of the square; 5. every epoch: validation with the scoring
code (``emubench.validate``: pixel KS and power spectrum against the validation split), sample grid, checkpoint,
best checkpoint; 6. logging every ``log_every`` steps.

Maps of several cosmologies (``MapSet.params``) make the model conditional on their parameters (how they enter
the networks: ``networks.py``): every batch carries its maps' parameters, the fakes are made at those, real
maps shown with another map's parameters count as fakes too (``mismatch``), and validation runs at a few
training cosmologies (``validation_cosmologies``) and logs how κ rms responds to each parameter.

Label flipping is per sample: each real and each fake label in a batch flips independently with
probability ``flip`` (0.03 in the thesis, 0.01 in CosmoGAN).
Data order is a function of (seed, epoch), and the latent/flip/augmentation RNG state is checkpointed, so a
resumed run repeats an uninterrupted one step for step (on CPU).

Only the public API of emubench is used (``emubench`` and ``emubench.stats``), as by any third-party plugin.
"""

from __future__ import annotations

import importlib.metadata
import math
import os
import shutil
import signal
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
import torch.nn.functional as F

from emubench import EmubenchError, MapSet, RunFolder, get_transform
from emubench import validate as validate_maps
from emubench.stats import fast_bf16, random_symmetries

from .config import TrainConfig
from .networks import Discriminator, Generator, generate, init_weights

TRAINER = "cosmogan-dcgan-trainer"


@dataclass(frozen=True)
class Dist:
    """The distributed setup, built once: one process (world 1) or a torchrun rank."""

    rank: int
    world: int
    device: str

    @property
    def ddp(self) -> bool:
        return self.world > 1

    @property
    def master(self) -> bool:
        return self.rank == 0

    @classmethod
    def setup(cls, device: str) -> Dist:
        world, rank = int(os.environ.get("WORLD_SIZE", "1")), int(os.environ.get("RANK", "0"))
        if world > 1:
            if device.startswith("cuda"):
                device = f"cuda:{int(os.environ.get('LOCAL_RANK', '0'))}"
                torch.cuda.set_device(device)
            dist.init_process_group(backend="nccl" if device.startswith("cuda") else "gloo")
        return cls(rank, world, device)


def plugin_version() -> str:
    """The version of the distribution that ships this plugin (emubench itself for the reference plugin)."""
    try:
        return importlib.metadata.version("emubench")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def fit_transform(cfg: TrainConfig, train_maps: MapSet, conditional: bool = False) -> dict:
    """Transform parameters: CosmoGAN's s(x) with a shift that makes κ positive and a so the median maps to 0.

    Fitted on the first 512 training maps; for maps of several cosmologies (stored one cosmology after
    another) on 2,048 maps spread evenly over the split, so that every cosmology's tails are in the fit."""
    if cfg.transform == "identity":
        return {"name": "identity", "params": {}}
    if conditional:
        sample = train_maps.get(np.unique(np.linspace(0, len(train_maps) - 1, 2048).astype(int)))
    else:
        sample = train_maps.get(slice(0, min(len(train_maps), 512)))
    shift = cfg.transform_shift if cfg.transform_shift is not None else max(0.0, -float(sample.min())) * 1.5
    a = cfg.transform_a if cfg.transform_a is not None else float(np.median(sample + shift))
    return {"name": cfg.transform, "params": {"a": float(a), "shift": float(shift)}}


def grid_png(maps: np.ndarray, gap: int = 2) -> bytes:
    """A square grid of maps as 8-bit greyscale PNG bytes (the per-epoch sample grid), κ from its 1st to its
    99.5th percentile mapped to black…white, ``gap`` white pixels between maps.

    Written with zlib rather than matplotlib: importing and first drawing matplotlib cost about a second in
    every training process, which the tests start dozens of."""
    import struct
    import zlib

    k = int(math.ceil(math.sqrt(len(maps))))
    h, w = maps.shape[-2:]
    lo, hi = np.percentile(maps, [1, 99.5])
    grey = np.clip((np.asarray(maps, dtype=np.float64) - lo) / max(hi - lo, 1e-30), 0.0, 1.0)
    canvas = np.full((k * (h + gap) - gap, k * (w + gap) - gap), 255, dtype=np.uint8)
    for i, m in enumerate(grey):
        r, c = divmod(i, k)
        canvas[r * (h + gap) : r * (h + gap) + h, c * (w + gap) : c * (w + gap) + w] = np.rint(m * 255)

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    rows = np.hstack([np.zeros((canvas.shape[0], 1), np.uint8), canvas])  # filter type 0 before each row
    header = struct.pack(">IIBBBBB", canvas.shape[1], canvas.shape[0], 8, 0, 0, 0, 0)  # 8-bit greyscale
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows.tobytes(), 6))
        + chunk(b"IEND", b"")
    )


def validate(
    generator: Generator, transform: Any, splits: dict[str, MapSet], cfg: TrainConfig, device: str, seed: int
) -> dict[str, Any]:
    """Pixel KS and power-spectrum deviation of ``val_maps`` generated maps against the validation split.

    ``ps_dev`` is the RMS over ℓ bins of log(mean generated C_ℓ / mean real C_ℓ); ``ps_chi2`` the χ²/dof;
    ``score`` ranks checkpoints: how many floors away the worse of KS D and ps_dev is (lower is better).

    A conditional generator is validated at a few training cosmologies (``validation_cosmologies``: the
    centre and the corners of the design), each against the validation maps of that cosmology; the figures are
    those of the worst one, and two more keys show whether the parameters are learnt: ``cosmologies`` (each
    one's figures and its κ rms, real and generated) and ``response`` ({parameter: {"real", "generated"}}: the
    change of ln κ rms from the middle to the top of that parameter's training range, fitted over them)."""
    mcfg = generator.cfg
    if not mcfg.params:
        n = min(cfg.val_maps, len(splits["val"]), len(splits["test"]))
        return _validate_at(generator, transform, splits, n, device, seed)[0]
    per = []
    for theta in validation_cosmologies(splits["val"]):
        at = {"train": splits["train"].at(theta), "val": splits["val"].at(theta), "test": splits["test"].at(theta)}
        n = min(cfg.val_maps, len(at["val"]), len(at["test"]))
        v, maps = _validate_at(
            generator, transform, at, n, device, seed, torch.from_numpy(mcfg.scale_params(theta, n)).to(device)
        )
        rms = {"rms_real": float(at["val"].get(slice(0, n)).std()), "rms_generated": float(np.std(maps))}
        per.append({**dict(zip(mcfg.params, map(float, theta))), **v, **rms})
    worst = max(per, key=lambda v: v["score"])
    x = np.column_stack([np.ones(len(per)), mcfg.scale_params([[c[p] for p in mcfg.params] for c in per], len(per))])
    response = {}
    for key, label in (("rms_real", "real"), ("rms_generated", "generated")):
        y = np.log(np.maximum([c[key] for c in per], 1e-30))
        slope = np.linalg.lstsq(x, y, rcond=None)[0][1:] if np.isfinite(y).all() else [math.nan] * len(mcfg.params)
        for p, b in zip(mcfg.params, slope):
            response.setdefault(p, {})[label] = float(b)
    figures = ("ks_D", "ks_floor", "ps_dev", "ps_dev_floor", "ps_chi2", "score")
    return {**{k: worst[k] for k in figures}, "cosmologies": per, "response": response}


def _validate_at(
    generator: Generator,
    transform: Any,
    splits: dict[str, MapSet],
    n: int,
    device: str,
    seed: int,
    theta: torch.Tensor | None = None,
) -> tuple[dict[str, float], np.ndarray]:
    """``validate`` against ``splits`` (at one cosmology, ``theta`` (n, P) scaled, for a conditional generator):
    (figures, the n generated maps)."""
    was_training = generator.training
    generator.eval()
    with torch.no_grad():
        z = torch.randn(
            n, generator.cfg.latent, generator=torch.Generator(device=device).manual_seed(seed), device=device
        )
        maps = generate(generator, z, transform, theta).cpu().numpy()
    generator.train(was_training)
    if not np.isfinite(maps).all():
        return {
            "ks_D": math.inf,
            "ks_floor": math.nan,
            "ps_dev": math.inf,
            "ps_dev_floor": math.nan,
            "ps_chi2": math.inf,
            "score": math.inf,
        }, maps
    v = validate_maps(maps, splits, ["pixel-ks", "power-spectrum"], n=n, seed=seed)
    ks, ps, chi2 = v["pixel-ks"]["D"], v["power-spectrum"]["rms-log-ratio"], v["power-spectrum"]["chi2-dof"]
    s = max(ks["value"] / max(ks["floor"], 1e-12), ps["value"] / max(ps["floor"], 1e-12))
    return {
        "ks_D": ks["value"],
        "ks_floor": ks["floor"],
        "ps_dev": ps["value"],
        "ps_dev_floor": ps["floor"],
        "ps_chi2": chi2["value"],
        "score": float(s),
    }, maps


def validation_cosmologies(val: MapSet) -> np.ndarray:
    """The training cosmologies (K, P) a conditional generator is validated at: the one nearest the centre of
    the design and the one nearest each corner (2**P of them), in units of each parameter's range. Held-out
    cosmologies are never used: they are the interpolation test of ``emubench score``."""
    thetas = np.array([t for t in val.cosmologies() if not val.is_heldout(t)])
    lo, hi = thetas.min(0), thetas.max(0)
    x = (thetas - lo) / np.where(hi > lo, hi - lo, 1.0)
    corners = np.array(np.meshgrid(*[[0.0, 1.0]] * thetas.shape[1], indexing="ij")).reshape(thetas.shape[1], -1).T
    picks = [int(np.argmin(((x - t) ** 2).sum(1))) for t in [np.full(thetas.shape[1], 0.5), *corners]]
    return thetas[sorted(set(picks), key=picks.index)]


def grid_params(n_params: int) -> np.ndarray:
    """16 scaled parameter vectors (16, P) for a conditional model's sample grid: 4 × 4 over the first two
    parameters' training ranges (rows: the first, columns: the second; others at the middle), or 16 steps
    of a single one."""
    if n_params == 1:
        return np.linspace(-1, 1, 16, dtype=np.float32)[:, None]
    g = np.zeros((16, n_params), dtype=np.float32)
    steps = np.linspace(-1, 1, 4, dtype=np.float32)
    g[:, 0], g[:, 1] = np.repeat(steps, 4), np.tile(steps, 4)
    return g


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


def train(
    *,
    model: str,
    splits: dict[str, MapSet],
    mapset: MapSet,
    split_seed: int,
    config: dict[str, Any],
    out: Path,
    resume: bool,
    device: str,
    quiet: bool = False,
) -> Path:
    """The ``Trainer.train`` of cosmogan-dcgan: lock the run folder, train, release (see the module docstring)."""
    out = Path(out)
    cfg = TrainConfig.from_dict(config)
    if not resume and RunFolder.exists(out):
        raise EmubenchError(f"{out}: already holds a run; use --resume to continue it or choose another --out")
    if resume and not RunFolder.exists(out):
        raise EmubenchError(f"{out}: nothing to resume (no manifest.json)")
    d = Dist.setup(device)
    log = (lambda msg: print(f"[train] {msg}", flush=True)) if (d.master and not quiet) else (lambda msg: None)
    fresh = not out.exists()
    lock = RunFolder.lock_folder(out) if d.master else None
    if lock:
        lock.__enter__()
    try:
        return _train(model, splits, mapset, split_seed, cfg, out, resume, d, log)
    except BaseException:
        if d.master and fresh and {p.name for p in out.iterdir()} <= {".lock"}:
            lock.__exit__(None, None, None)
            lock = None
            shutil.rmtree(out, ignore_errors=True)  # failed before writing anything: leave no empty run folder
        raise
    finally:
        if lock:
            lock.__exit__(None, None, None)
        if d.ddp:
            import gc

            # DDP wrappers sit in reference cycles; collect them (and the gloo work they hold) while the
            # group is alive, or their gloo threads are torn down at interpreter exit and abort the process.
            gc.collect()
            dist.destroy_process_group()


def _train(
    model_name: str,
    splits: dict[str, MapSet],
    mapset: MapSet,
    split_seed: int,
    cfg: TrainConfig,
    out: Path,
    resume: bool,
    d: Dist,
    log,
) -> Path:
    # 1. setup: the run's own config wins on resume; only the budget can be extended ----------------------------
    device, cuda = d.device, d.device.startswith("cuda")
    train_set = splits["train"]
    run = None
    if resume:
        run = RunFolder.open(out)
        budget = {k: v for k, v in (("epochs", cfg.epochs), ("max_steps", cfg.max_steps)) if v is not None}
        cfg = TrainConfig.from_dict(run.manifest["train_config"]).with_overrides(budget)
        run.check_data(mapset)
    # Maps of several cosmologies make the model conditional on their parameters (scaled over the training range)
    conditional = train_set.params is not None and len(train_set.cosmologies()) > 1
    model_cfg = replace(cfg.model, npix=train_set.npix)
    if conditional:
        lo, hi = train_set.params.min(0), train_set.params.max(0)
        # a parameter that does not vary over the training maps gets a unit range around its value (scaled to 0)
        lo, hi = np.where(hi > lo, lo, lo - 1), np.where(hi > lo, hi, hi + 1)
        model_cfg = replace(
            model_cfg,
            params=tuple(train_set.param_names),
            param_lo=tuple(map(float, lo)),
            param_hi=tuple(map(float, hi)),
        )
    # the manifest's train_config records the network built (its npix and parameters come from the data), so
    # that it and model_config never disagree (a preset's npix is its default, not what was trained)
    cfg = replace(cfg, model=model_cfg)
    torch.manual_seed(cfg.seed)

    # 2. data ---------------------------------------------------------------------------------------------------
    tinfo = run.manifest["transform"] if resume else fit_transform(cfg, train_set, conditional)
    transform = get_transform(tinfo["name"], **tinfo["params"])
    n_train, bs = len(train_set), cfg.batch_size
    local_bs = max(1, bs // d.world)
    steps_per_epoch = max(1, n_train // bs)
    resident = None
    if cuda and cfg.gpu_resident:
        need = n_train * train_set.npix**2 * 4
        free, _ = torch.cuda.mem_get_info()
        if need < 0.5 * free:
            resident = torch.empty((n_train, 1, train_set.npix, train_set.npix), dtype=torch.float32, device=device)
            for s in range(0, n_train, 4096):
                chunk = torch.from_numpy(train_set.get(slice(s, min(n_train, s + 4096))))
                resident[s : s + len(chunk), 0] = transform.forward(chunk.to(device))
            log(f"training split resident on {device}: {n_train} maps, {need / 2**30:.2f} GiB")
    # each training map's parameters, scaled as the networks take them (a conditional model only)
    theta_all = torch.from_numpy(model_cfg.scale_params(train_set.params, n_train)).to(device) if conditional else None

    def batch_at(step: int) -> tuple[torch.Tensor, torch.Tensor | None]:
        """The real maps of ``step`` (b, 1, npix, npix) in training units, and their scaled parameters (b, P)."""
        # The data order is a pure function of (seed, epoch): nothing to save, identical after a resume.
        epoch, b = divmod(step, steps_per_epoch)
        perm = torch.randperm(n_train, generator=torch.Generator().manual_seed(cfg.seed * 100_003 + epoch))
        idx = perm[b * bs : (b + 1) * bs][d.rank * local_bs : (d.rank + 1) * local_bs]
        if resident is not None:
            idx = idx.to(device)
            return resident[idx], (theta_all[idx] if conditional else None)
        idx = torch.sort(idx).values  # ascending reads from the memory-mapped file
        maps = torch.from_numpy(train_set.get(idx.numpy()))
        theta = theta_all[idx.to(device)] if conditional else None
        return transform.forward(maps).unsqueeze(1).to(device, non_blocking=True), theta

    # 3. model and optimisers -----------------------------------------------------------------------------------
    G, D = Generator(model_cfg).to(device), Discriminator(model_cfg).to(device)
    G.apply(init_weights)
    D.apply(init_weights)
    opt_g = torch.optim.Adam(G.parameters(), lr=cfg.lr_at(0), betas=(cfg.beta1, cfg.beta2))
    opt_d = torch.optim.Adam(D.parameters(), lr=cfg.lr_at(0), betas=(cfg.beta1, cfg.beta2))
    rng = torch.Generator(device=device).manual_seed(cfg.seed * 7919 + d.rank)
    step, best = 0, None
    seconds_before = 0.0  # training time of the sessions before a resume, up to the checkpoint resumed from
    if resume and not run.manifest["checkpoints"]:
        # Killed before its first checkpoint: nothing was saved, so the run starts again from step 0.
        log("no checkpoint was written before the run stopped; starting it again from step 0")
    elif resume:
        name = run.newest_good_checkpoint()
        if name is None:
            raise EmubenchError(f"{out}: no complete checkpoint to resume from (all recorded checkpoints are corrupt)")
        if run.latest != name:
            log(f"latest checkpoint {run.latest!r} is incomplete or corrupt; resuming from {name!r}")
        state = run.load_checkpoint(name)
        G.load_state_dict(state["generator"])
        D.load_state_dict(state["discriminator"])
        opt_g.load_state_dict(state["opt_g"])
        opt_d.load_state_dict(state["opt_d"])
        rng.set_state(state["rng"][d.rank] if isinstance(state["rng"], list) else state["rng"])
        step = int(state["step"])
        best = run.manifest.get("best_score")
        seconds_before = float(run.manifest["checkpoints"][name].get("train_seconds") or 0.0)
        log(f"resumed from {name} at step {step}")
    # bf16 is resolved once, so a resumed run keeps its precision even on other hardware
    amp_bf16 = (
        run.manifest.get("amp_bf16", cuda and cfg.amp is not False)
        if resume
        else (fast_bf16(device) if cfg.amp == "auto" else bool(cfg.amp))
    )
    if not resume and d.master:
        run = RunFolder.create(
            out,
            model=model_name,
            mapset=mapset,
            split_seed=split_seed,
            seed=cfg.seed,
            model_config=asdict(model_cfg),
            trainer=TRAINER,
            plugin={"name": "cosmogan-dcgan", "version": plugin_version()},
            train_config=cfg.to_dict(),
            transform=tinfo,
            device=device,
            world_size=d.world,
            amp_bf16=amp_bf16,
        )
    if cfg.channels_last:
        G, D = G.to(memory_format=torch.channels_last), D.to(memory_format=torch.channels_last)
    Gm, Dm = G, D  # unwrapped modules: what checkpoints store, so a DDP run loads in one process
    if d.ddp:
        from torch.nn.parallel import DistributedDataParallel as DDP

        ids = [torch.device(device).index] if cuda else None
        G, D = DDP(G, device_ids=ids, broadcast_buffers=False), DDP(D, device_ids=ids, broadcast_buffers=False)
    if cfg.compile:
        G, D = torch.compile(G), torch.compile(D)
    amp = torch.autocast("cuda" if cuda else "cpu", dtype=torch.bfloat16, enabled=bool(amp_bf16))
    total_steps = cfg.epochs * steps_per_epoch
    if cfg.max_steps:
        total_steps = min(total_steps, int(cfg.max_steps))
    fixed_z = torch.randn(16, model_cfg.latent, generator=torch.Generator().manual_seed(12345)).to(device)
    fixed_theta = None
    if conditional:  # one latent across the grid's parameters, so the grid shows what the parameters change
        fixed_z, fixed_theta = (
            fixed_z[:1].expand(16, -1),
            torch.from_numpy(grid_params(len(model_cfg.params))).to(device),
        )

    def rng_states():
        """Every rank's RNG state (a collective under DDP: all ranks call it at the same step)."""
        if not d.ddp:
            return rng.get_state()
        states = [None] * d.world
        dist.all_gather_object(states, rng.get_state())
        return states

    def checkpoint(info: dict, rngs) -> str:
        name = f"step-{step:07d}"
        state = {
            "generator": Gm.state_dict(),
            "discriminator": Dm.state_dict(),
            "opt_g": opt_g.state_dict(),
            "opt_d": opt_d.state_dict(),
            "rng": rngs,
            "step": step,
        }
        # the cost of the run so far (the leaderboard's training time): wall seconds of the loop, summed over
        # sessions; the work a killed session did after its last checkpoint is redone, so not counted twice
        seconds = seconds_before + time.perf_counter() - t0
        run.save_checkpoint(name, state, step=step, keep_last=cfg.keep_last, train_seconds=seconds, **info)
        return name

    if d.master:
        run.truncate_log(step)  # a resumed run drops the log lines written after its checkpoint
    log(
        f"{model_name} {model_cfg.npix}² width {model_cfg.width}, {sum(p.numel() for p in Gm.parameters()) / 1e6:.2f}M "
        f"G params, {n_train} training maps, {steps_per_epoch} steps/epoch, {total_steps} steps on {device}"
        + (f" × {d.world} ranks" if d.ddp else "")
    )

    # 4. the loop -----------------------------------------------------------------------------------------------
    acc = torch.zeros(4, device=device)  # loss_d, loss_g, real score, fake score (summed; read only when logging)
    t0, t_last, acc_n, stale = time.perf_counter(), time.perf_counter(), 0, 0
    with Stop() as stop:
        while step < total_steps:
            epoch = step // steps_per_epoch
            lr = cfg.lr_at(epoch)
            for opt in (opt_g, opt_d):
                for group in opt.param_groups:
                    group["lr"] = lr
            real, theta = batch_at(step)
            if cfg.augment:
                real = random_symmetries(real, rng)
            if cfg.channels_last:
                real = real.contiguous(memory_format=torch.channels_last)
            b = real.shape[0]
            z = torch.randn(b, model_cfg.latent, generator=rng, device=device)
            flip_r = (torch.rand(b, 1, generator=rng, device=device) < cfg.flip).float()
            flip_f = (torch.rand(b, 1, generator=rng, device=device) < cfg.flip).float()
            # 4a. discriminator: real → 1, fake → 0, each label flipped with probability `flip`
            with amp:  # a conditional D sees every map with its parameters, fakes with those of the real batch
                fake = G(z, theta)
                d_real = D(real, theta).float()
                d_fake = D(fake.detach(), theta).float()
                loss_real = F.binary_cross_entropy_with_logits(d_real, 1 - flip_r)
                loss_fake = F.binary_cross_entropy_with_logits(d_fake, flip_f)
                if conditional and cfg.mismatch:  # real maps shown with the next map's parameters are fakes too
                    d_wrong = D(real, theta.roll(1, dims=0)).float()
                    loss_wrong = F.binary_cross_entropy_with_logits(d_wrong, flip_f)
                    loss_fake = (1 - cfg.mismatch) * loss_fake + cfg.mismatch * loss_wrong
                loss_d = loss_real + loss_fake
            opt_d.zero_grad(set_to_none=True)
            loss_d.backward()
            opt_d.step()
            # 4b. generator: non-saturating loss on the same fake batch (one G forward per step)
            with amp:
                loss_g = F.binary_cross_entropy_with_logits(D(fake, theta).float(), torch.ones_like(d_fake))
            opt_g.zero_grad(set_to_none=True)
            loss_g.backward()
            opt_g.step()
            step += 1
            acc += torch.stack(
                [
                    loss_d.detach(),
                    loss_g.detach(),
                    torch.sigmoid(d_real.detach()).mean(),
                    torch.sigmoid(d_fake.detach()).mean(),
                ]
            )
            acc_n += 1

            # 6. logging: the only host synchronisation in the loop
            if step % cfg.log_every == 0 or step == total_steps:
                vals = (acc / max(acc_n, 1)).tolist()
                now = time.perf_counter()
                rate = acc_n * bs / max(now - t_last, 1e-9)  # the steps of this interval (the last may be short)
                acc.zero_()
                acc_n, t_last = 0, now
                if not all(math.isfinite(v) for v in vals):
                    raise EmubenchError(
                        f"training diverged at step {step} (non-finite loss); resume from an earlier "
                        "checkpoint with a lower lr"
                    )
                if d.master:
                    run.append_log(
                        {
                            "step": step,
                            "epoch": epoch,
                            "lr": lr,
                            "loss_d": vals[0],
                            "loss_g": vals[1],
                            "real_score": vals[2],
                            "fake_score": vals[3],
                            "maps_per_s": rate,
                            "time_s": now - t0,
                        }
                    )
                    eta = (total_steps - step) * bs / max(rate, 1e-9)
                    log(
                        f"step {step}/{total_steps} epoch {epoch} loss_d {vals[0]:.3f} loss_g {vals[1]:.3f} "
                        f"D(x) {vals[2]:.2f} D(G(z)) {vals[3]:.2f} {rate:.0f} maps/s ETA {eta:.0f}s"
                    )

            if d.ddp:
                # any rank's interrupt stops all ranks at the same step
                f = torch.tensor([float(stop.flag)], device=device)
                dist.all_reduce(f)
                stop.flag = bool(f.item() > 0)
            end_of_epoch = step % steps_per_epoch == 0 or step == total_steps
            # 5. validation, sample grid and checkpoints (the decision is the same on every rank)
            rngs = rng_states() if (end_of_epoch or step % cfg.ckpt_every == 0 or stop.flag) else None
            if end_of_epoch and d.master:
                v = validate(Gm, transform, splits, cfg, device, seed=cfg.seed + 1)
                was = Gm.training
                Gm.eval()
                with torch.no_grad():
                    grid = generate(Gm, fixed_z, transform, fixed_theta).cpu().numpy()
                Gm.train(was)
                run.write_bytes(f"samples/epoch-{epoch:03d}.png", grid_png(grid))
                run.append_log({"step": step, "epoch": epoch, "validation": v})
                log(
                    f"epoch {epoch} validation: KS D {v['ks_D']:.4f} (floor {v['ks_floor']:.4f}), "
                    f"P(ℓ) rms log ratio {v['ps_dev']:.3f} (floor {v['ps_dev_floor']:.3f}), χ²/dof {v['ps_chi2']:.1f}"
                    + (f" (worst of {len(v['cosmologies'])} cosmologies)" if conditional else "")
                )
                if conditional:
                    log(
                        f"epoch {epoch} response of ln κ rms to each parameter (middle → top of its range): "
                        + ", ".join(
                            f"{p} real {r['real']:+.3f} generated {r['generated']:+.3f}"
                            for p, r in v["response"].items()
                        )
                    )
                name = checkpoint({"epoch": epoch, "validation": v}, rngs)
                if best is None or v["score"] < best:
                    best, stale = v["score"], 0
                    run.set_best(name, best_score=best)
                else:
                    stale += 1
            elif rngs is not None and d.master:
                checkpoint({"epoch": epoch}, rngs)
            if d.ddp and end_of_epoch:
                s = torch.tensor([float(stale)], device=device)
                dist.broadcast(s, 0)  # early stopping is decided by rank 0's validation, for all ranks
                stale = int(s.item())
            if stop.flag:
                log(f"interrupted at step {step}: checkpoint written; continue with --resume")
                break
            if cfg.early_stop and stale >= cfg.early_stop:
                log(f"early stop: no better validation score for {stale} epochs")
                break
    if d.ddp:
        # Prove the ranks stayed in sync: every rank's generator parameters must sum to the same value.
        local = torch.stack([p.detach().double().sum() for p in Gm.parameters()]).sum().reshape(1)
        sums = [torch.zeros_like(local) for _ in range(d.world)]
        dist.all_gather(sums, local)
        if d.master:
            run.update(ddp_parameter_checksums=[float(s.item()) for s in sums])
    if d.master and run.best:  # what `emubench score --model RUN` and `sample` will load
        log(f"best checkpoint: {run.best} (validation score {run.manifest['best_score']:.4g}), in {out}")
    return out
