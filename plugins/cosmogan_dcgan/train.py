"""Training loop of the reference DCGAN, top to bottom (in the shape of nanoGPT's train.py).

``train`` locks the run folder and calls the three parts a reader follows in order:

1. ``setup``: the config (the run's own on ``--resume``, where only the budget can be extended), the data
   (resident on the GPU when it fits, streamed from the memory-mapped dataset on CPU), the networks and
   optimisers, and the one branch that differs on resume: the newest good checkpoint's state, or a new run
   folder. It returns a ``State``, the same either way.
2. ``train_step``: one GAN step on a random batch under the 8 symmetries of the square: the discriminator,
   then the generator on the same fake batch.
3. ``end_of_epoch``: validation with the scoring code (``validation.py``), the sample grid (``samples.py``),
   a checkpoint, the best checkpoint and early stopping.

The loop itself (``_loop``) logs every ``log_every`` steps and checkpoints every ``ckpt_every`` steps and on
SIGINT/SIGTERM. Every random stream comes from ``seeds.py``, the DDP collectives from ``distributed.py``.

Maps of several cosmologies (``MapSet.params``) make the model conditional on their parameters (how they enter
the networks: ``networks.py``): every batch carries its maps' parameters, the fakes are made at those, real
maps shown with another map's parameters count as fakes too (``mismatch``), and validation runs at a few
training cosmologies and logs how κ rms responds to each parameter.

Label flipping is per sample: each real and each fake label in a batch flips independently with
probability ``flip`` (0.03 in the thesis, 0.01 in CosmoGAN).
Data order is a function of (seed, epoch), and the latent/flip/augmentation RNG state is checkpointed, so a
resumed run repeats an uninterrupted one step for step (on CPU).

Only the public API of emubench is used (``emubench`` and ``emubench.stats``), as by any third-party plugin.
"""

from __future__ import annotations

import importlib.metadata
import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from emubench import (
    Bar,
    EmubenchError,
    MapSet,
    RunFolder,
    StopOnSignal,
    TrainRequest,
    budget_left,
    check_time_budget,
    conditioning,
    fit_cosmogan_transform,
    get_transform,
    resume_point,
    say,
    training_folder,
)
from emubench.stats import fast_bf16, random_symmetries

from . import distributed, seeds
from .config import DCGANConfig, TrainConfig
from .distributed import Dist
from .networks import Discriminator, Generator, init_weights
from .samples import grid_latents, sample_grid
from .validation import validate

TRAINER = "cosmogan-dcgan-trainer"


@dataclass
class State:
    """Everything the loop reads and changes, built by ``setup`` (the same for a fresh and a resumed run).

    ``G``/``D`` are what the step calls (DDP-wrapped, compiled); ``Gm``/``Dm`` the plain modules that
    checkpoints store, so that a DDP run loads in one process. ``run`` is None on ranks other than 0 of a
    fresh run (only rank 0 writes)."""

    cfg: TrainConfig
    d: Dist
    run: RunFolder | None
    log: Callable[[str], None]
    progress: bool  # a progress bar on a terminal (rank 0, not --quiet)
    splits: dict[str, MapSet]
    batches: Batches
    transform: Any
    G: torch.nn.Module
    D: torch.nn.Module
    Gm: Generator
    Dm: Discriminator
    opt_g: torch.optim.Optimizer
    opt_d: torch.optim.Optimizer
    rng: torch.Generator
    amp: torch.autocast
    grid: tuple[torch.Tensor, torch.Tensor | None]  # the sample grid's fixed latents and parameters
    total_steps: int
    step: int = 0
    best: float | None = None  # the best validation score so far (lower is better)
    stale: int = 0  # epochs since it improved (early stopping)
    seconds_before: float = 0.0  # training time of the sessions before a resume, up to its checkpoint
    t0: float = 0.0  # when this session's loop started (perf_counter)

    @property
    def conditional(self) -> bool:
        return bool(self.Gm.cfg.params)

    @property
    def steps_per_epoch(self) -> int:
        return self.batches.steps_per_epoch


def train(request: TrainRequest) -> Path:
    """Lock the run folder, train, release; a run that failed before writing anything leaves no folder."""
    d = Dist.setup(request.device)
    log = (lambda msg: say(f"[train] {msg}")) if (d.master and not request.quiet) else (lambda msg: None)
    try:
        with training_folder(request.out, request.resume, lock=d.master) as out:
            s = setup(request, d, log)
            _loop(s)
            _finish(s, out)
        return out
    finally:
        d.teardown()


def _loop(s: State) -> None:
    """Steps until the budget, an interrupt (checkpoint written) or early stopping."""
    cfg, d = s.cfg, s.d
    acc = torch.zeros(4, device=d.device)  # loss_d, loss_g, D(x), D(G(z)) summed; read only when logging
    s.t0 = t_last = time.perf_counter()
    acc_n = 0
    bar = Bar("training", total=s.total_steps, unit="steps", enabled=d.master and s.progress)
    with StopOnSignal() as stop, bar:
        bar.n = s.step  # a resumed run's bar starts where its checkpoint was
        while s.step < s.total_steps:
            epoch = s.step // s.steps_per_epoch
            lr = cfg.lr_at(epoch)
            for opt in (s.opt_g, s.opt_d):
                for group in opt.param_groups:
                    group["lr"] = lr
            acc += train_step(s, *s.batches(s.step))
            s.step, acc_n = s.step + 1, acc_n + 1
            bar.update()
            if s.step % cfg.log_every == 0 or s.step == s.total_steps:  # the only host synchronisation
                t_last = _log_progress(s, epoch, lr, acc / acc_n, acc_n, t_last)
                acc.zero_()
                acc_n = 0
            stop.flag = distributed.any_rank(d, stop.flag)
            if cfg.max_minutes and distributed.any_rank(d, _seconds_left(s) <= 0):
                s.total_steps = s.step  # the time budget is spent: this step is the last, and ends an epoch
                s.log(f"time budget of {cfg.max_minutes:g} min spent at step {s.step}: validating and stopping")
            epoch_done = s.step % s.steps_per_epoch == 0 or s.step == s.total_steps
            # checkpoints: the decision is the same on every rank (gathering the RNG states is a collective)
            rngs = None
            if epoch_done or s.step % cfg.ckpt_every == 0 or stop.flag:
                rngs = distributed.rng_states(d, s.rng)
            if epoch_done and d.master:
                end_of_epoch(s, epoch, rngs)
            elif rngs is not None and d.master:
                checkpoint(s, rngs, epoch=epoch)
            if epoch_done:
                s.stale = distributed.from_master(d, s.stale)
            if stop.flag:
                s.log(f"interrupted at step {s.step}: checkpoint written; continue with --resume")
                return
            if cfg.early_stop and s.stale >= cfg.early_stop:
                s.log(f"early stop: no better validation score for {s.stale} epochs")
                return


def _seconds_left(s: State) -> float:
    """Seconds left of the run's time budget (infinite without one), its loop's wall time summed over sessions."""
    return budget_left(s.cfg.max_minutes, s.seconds_before + time.perf_counter() - s.t0)


# 1. setup ----------------------------------------------------------------------------------------------------------


def setup(request: TrainRequest, d: Dist, log: Callable[[str], None]) -> State:
    """Config, data, networks and optimisers; then the one resume branch (see the module docstring)."""
    train_set = request.splits["train"]
    cfg = TrainConfig.from_dict(request.config)
    run = None
    if request.resume:  # the run's own config wins; only the budget can be extended
        run = RunFolder.open(request.out)
        budget = {k: getattr(cfg, k) for k in ("epochs", "max_steps", "max_minutes") if getattr(cfg, k) is not None}
        cfg = TrainConfig.from_dict(run.manifest["train_config"]).with_overrides(budget)
        run.check_data(request.mapset)
    # the manifest's train_config records the network built (its npix and parameters come from the data), so
    # that it and model_config never disagree (a preset's npix is its default, not what was trained)
    cfg = replace(cfg, model=network_config(cfg.model, train_set))
    torch.manual_seed(cfg.seed)
    tinfo = run.manifest["transform"] if run else fit_transform(cfg, train_set, bool(cfg.model.params))
    transform = get_transform(tinfo["name"], **tinfo["params"])
    batches = Batches(train_set, transform, cfg, d, log)
    G, D = Generator(cfg.model).to(d.device), Discriminator(cfg.model).to(d.device)
    G.apply(init_weights)
    D.apply(init_weights)
    opt_g = torch.optim.Adam(G.parameters(), lr=cfg.lr_at(0), betas=(cfg.beta1, cfg.beta2))
    opt_d = torch.optim.Adam(D.parameters(), lr=cfg.lr_at(0), betas=(cfg.beta1, cfg.beta2))
    rng = torch.Generator(device=d.device).manual_seed(seeds.step_stream(cfg.seed, d.rank))
    step, best, seconds_before = 0, None, 0.0
    if run is not None:
        step, best, seconds_before = _restore(run, G, D, opt_g, opt_d, rng, d, log)
        # bf16 was resolved when the run started, so a resumed run keeps its precision even on other hardware
        amp_bf16 = run.manifest.get("amp_bf16", d.device.startswith("cuda") and cfg.amp is not False)
    else:
        amp_bf16 = fast_bf16(d.device) if cfg.amp == "auto" else bool(cfg.amp)
        if d.master:
            run = _create_run(request, cfg, tinfo, d, amp_bf16)
    if cfg.channels_last:
        G, D = G.to(memory_format=torch.channels_last), D.to(memory_format=torch.channels_last)
    Gw, Dw = distributed.wrap(d, G, D)
    if cfg.compile:
        Gw, Dw = torch.compile(Gw), torch.compile(Dw)
    total_steps = cfg.epochs * batches.steps_per_epoch
    if cfg.max_steps:
        total_steps = min(total_steps, int(cfg.max_steps))
    amp = torch.autocast("cuda" if d.device.startswith("cuda") else "cpu", dtype=torch.bfloat16, enabled=bool(amp_bf16))
    check_time_budget(request.out, cfg.max_minutes, seconds_before)
    if d.master:
        run.truncate_log(step)  # a resumed run drops the log lines written after its checkpoint
    log(
        f"{request.model} {cfg.model.npix}² width {cfg.model.width}, "
        f"{sum(p.numel() for p in G.parameters()) / 1e6:.2f}M G params, {batches.n} training maps, "
        f"{batches.steps_per_epoch} steps/epoch, {total_steps} steps on {d.device}"
        + (f" × {d.world} ranks" if d.ddp else "")
    )
    return State(
        cfg=cfg,
        d=d,
        run=run,
        log=log,
        progress=not request.quiet,
        splits=request.splits,
        batches=batches,
        transform=transform,
        G=Gw,
        D=Dw,
        Gm=G,
        Dm=D,
        opt_g=opt_g,
        opt_d=opt_d,
        rng=rng,
        amp=amp,
        grid=grid_latents(cfg.model, d.device),
        total_steps=total_steps,
        step=step,
        best=best,
        seconds_before=seconds_before,
    )


class Batches:
    """The real maps of each step (b, 1, npix, npix) in training units, and their scaled parameters (b, P) or None.

    The data order is a pure function of (seed, epoch): nothing to save, identical after a resume. On a GPU
    with room (``gpu_resident``) the whole training split is transformed once and kept there."""

    def __init__(self, train_set: MapSet, transform: Any, cfg: TrainConfig, d: Dist, log):
        self.train_set, self.transform, self.d = train_set, transform, d
        self.seed, self.bs, self.n = cfg.seed, cfg.batch_size, len(train_set)
        self.local_bs = max(1, self.bs // d.world)
        self.steps_per_epoch = max(1, self.n // self.bs)
        self.theta = (  # each map's parameters, scaled as the networks take them (a conditional model only)
            torch.from_numpy(cfg.model.scale_params(train_set.params, self.n)).to(d.device)
            if cfg.model.params
            else None
        )
        self.resident = None
        if d.device.startswith("cuda") and cfg.gpu_resident:
            need = self.n * train_set.npix**2 * 4
            free, _ = torch.cuda.mem_get_info()
            if need < 0.5 * free:
                self.resident = torch.empty((self.n, 1, train_set.npix, train_set.npix), device=d.device)
                for s in range(0, self.n, 4096):
                    chunk = torch.from_numpy(train_set.get(slice(s, min(self.n, s + 4096))))
                    self.resident[s : s + len(chunk), 0] = transform.forward(chunk.to(d.device))
                log(f"training split resident on {d.device}: {self.n} maps, {need / 2**30:.2f} GiB")

    def __call__(self, step: int) -> tuple[torch.Tensor, torch.Tensor | None]:
        epoch, b = divmod(step, self.steps_per_epoch)
        perm = torch.randperm(self.n, generator=torch.Generator().manual_seed(seeds.data_order(self.seed, epoch)))
        rank = self.d.rank
        idx = perm[b * self.bs : (b + 1) * self.bs][rank * self.local_bs : (rank + 1) * self.local_bs]
        if self.resident is not None:
            idx = idx.to(self.d.device)
            return self.resident[idx], (self.theta[idx] if self.theta is not None else None)
        idx = torch.sort(idx).values  # ascending reads from the memory-mapped file
        maps = torch.from_numpy(self.train_set.get(idx.numpy()))
        theta = self.theta[idx.to(self.d.device)] if self.theta is not None else None
        return self.transform.forward(maps).unsqueeze(1).to(self.d.device, non_blocking=True), theta


def network_config(model_cfg: DCGANConfig, train_set: MapSet) -> DCGANConfig:
    """The network the data asks for: its npix, and for maps of several cosmologies the parameters it is
    conditioned on, scaled over their training range (a parameter that does not vary gets a unit range)."""
    return replace(model_cfg, npix=train_set.npix, **conditioning(train_set))


def fit_transform(cfg: TrainConfig, train_maps: MapSet, conditional: bool = False) -> dict:
    """The transform's parameters, fitted on the training split (``emubench.fit_cosmogan_transform``, spread over
    every cosmology for a conditional model) unless the config gives them; or the identity."""
    if cfg.transform == "identity":
        return {"name": "identity", "params": {}}
    return fit_cosmogan_transform(train_maps, spread=conditional, shift=cfg.transform_shift, a=cfg.transform_a)


def _restore(run: RunFolder, G, D, opt_g, opt_d, rng: torch.Generator, d: Dist, log) -> tuple[int, float | None, float]:
    """Load the newest good checkpoint into the networks, optimisers and RNG (this rank's): (step, best score,
    seconds trained before it); a run killed before its first checkpoint starts again from step 0."""
    state, step, best, seconds = resume_point(run, log)
    if state is not None:
        G.load_state_dict(state["generator"])
        D.load_state_dict(state["discriminator"])
        opt_g.load_state_dict(state["opt_g"])
        opt_d.load_state_dict(state["opt_d"])
        rng.set_state(state["rng"][d.rank] if isinstance(state["rng"], list) else state["rng"])
    return step, best, seconds


def _create_run(request: TrainRequest, cfg: TrainConfig, tinfo: dict, d: Dist, amp_bf16: bool) -> RunFolder:
    return RunFolder.create(
        request.out,
        model=request.model,
        mapset=request.mapset,
        split_seed=request.split_seed,
        seed=cfg.seed,
        model_config=asdict(cfg.model),
        trainer=TRAINER,
        plugin={"name": "cosmogan-dcgan", "version": plugin_version()},
        train_config=cfg.to_dict(),
        transform=tinfo,
        device=d.device,
        world_size=d.world,
        amp_bf16=amp_bf16,
    )


def plugin_version() -> str:
    """The version of the distribution that ships this plugin (emubench itself for the reference plugin)."""
    try:
        return importlib.metadata.version("emubench")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


# 2. the step -------------------------------------------------------------------------------------------------------


def train_step(s: State, real: torch.Tensor, theta: torch.Tensor | None) -> torch.Tensor:
    """One GAN step on the real batch (b, 1, npix, npix) with its parameters (b, P) or None; returns
    (loss_d, loss_g, mean D(x), mean D(G(z))) as a tensor, not read here (no host synchronisation)."""
    cfg = s.cfg
    if cfg.augment:
        real = random_symmetries(real, s.rng)
    if cfg.channels_last:
        real = real.contiguous(memory_format=torch.channels_last)
    b, device = real.shape[0], s.d.device
    z = torch.randn(b, cfg.model.latent, generator=s.rng, device=device)
    flip_r = (torch.rand(b, 1, generator=s.rng, device=device) < cfg.flip).float()
    flip_f = (torch.rand(b, 1, generator=s.rng, device=device) < cfg.flip).float()
    # the discriminator: real → 1, fake → 0, each label flipped with probability `flip`
    with s.amp:  # a conditional D sees every map with its parameters, fakes with those of the real batch
        fake = s.G(z, theta)
        d_real = s.D(real, theta).float()
        d_fake = s.D(fake.detach(), theta).float()
        loss_real = F.binary_cross_entropy_with_logits(d_real, 1 - flip_r)
        loss_fake = F.binary_cross_entropy_with_logits(d_fake, flip_f)
        if theta is not None and cfg.mismatch:  # real maps shown with the next map's parameters are fakes too
            d_wrong = s.D(real, theta.roll(1, dims=0)).float()
            loss_wrong = F.binary_cross_entropy_with_logits(d_wrong, flip_f)
            loss_fake = (1 - cfg.mismatch) * loss_fake + cfg.mismatch * loss_wrong
        loss_d = loss_real + loss_fake
    s.opt_d.zero_grad(set_to_none=True)
    loss_d.backward()
    s.opt_d.step()
    # the generator: non-saturating loss on the same fake batch (one G forward per step)
    with s.amp:
        loss_g = F.binary_cross_entropy_with_logits(s.D(fake, theta).float(), torch.ones_like(d_fake))
    s.opt_g.zero_grad(set_to_none=True)
    loss_g.backward()
    s.opt_g.step()
    return torch.stack(
        [loss_d.detach(), loss_g.detach(), torch.sigmoid(d_real.detach()).mean(), torch.sigmoid(d_fake.detach()).mean()]
    )


# 3. the end of an epoch, logging, the end of the run ---------------------------------------------------------------


def end_of_epoch(s: State, epoch: int, rngs: Any) -> None:
    """Validation, sample grid, checkpoint and best checkpoint (rank 0 only)."""
    v = validate(s.Gm, s.transform, s.splits, s.cfg, s.d.device, seed=seeds.validation(s.cfg.seed))
    s.run.write_bytes(f"samples/epoch-{epoch:03d}.png", sample_grid(s.Gm, *s.grid, s.transform))
    s.run.append_log({"step": s.step, "epoch": epoch, "validation": v})
    s.log(
        f"epoch {epoch} validation: KS D {v['ks_D']:.4f} (floor {v['ks_floor']:.4f}), "
        f"P(ℓ) rms log ratio {v['ps_dev']:.3f} (floor {v['ps_dev_floor']:.3f}), χ²/dof {v['ps_chi2']:.1f}, "
        f"near-copies of training maps {v['copies']:.1%}{' (memorisation flagged)' if v['copies_flagged'] else ''}"
        + (f" (worst of {len(v['cosmologies'])} cosmologies)" if s.conditional else "")
    )
    if s.conditional:
        s.log(
            f"epoch {epoch} response of ln κ rms to each parameter (middle → top of its range): "
            + ", ".join(f"{p} real {r['real']:+.3f} generated {r['generated']:+.3f}" for p, r in v["response"].items())
        )
    name = checkpoint(s, rngs, epoch=epoch, validation=v)
    if s.best is None or v["score"] < s.best:
        s.best, s.stale = v["score"], 0
        s.run.set_best(name, best_score=s.best)
    else:
        s.stale += 1


def checkpoint(s: State, rngs: Any, **info: Any) -> str:
    """Write the state of the step as ``step-NNNNNNN`` (rank 0 only) with ``info`` in the manifest."""
    name = f"step-{s.step:07d}"
    state = {
        "generator": s.Gm.state_dict(),
        "discriminator": s.Dm.state_dict(),
        "opt_g": s.opt_g.state_dict(),
        "opt_d": s.opt_d.state_dict(),
        "rng": rngs,
        "step": s.step,
    }
    # the cost of the run so far (the leaderboard's training time): wall seconds of the loop, summed over
    # sessions; the work a killed session did after its last checkpoint is redone, so not counted twice
    seconds = s.seconds_before + time.perf_counter() - s.t0
    s.run.save_checkpoint(name, state, step=s.step, keep_last=s.cfg.keep_last, train_seconds=seconds, **info)
    return name


def _log_progress(s: State, epoch: int, lr: float, mean: torch.Tensor, n_steps: int, t_last: float) -> float:
    """Log the mean losses of the last ``n_steps`` steps (rank 0); stop on a non-finite loss. Returns now."""
    vals = mean.tolist()
    now = time.perf_counter()
    rate = n_steps * s.cfg.batch_size / max(now - t_last, 1e-9)  # the steps of this interval (the last may be short)
    if not all(math.isfinite(v) for v in vals):
        raise EmubenchError(
            f"training diverged at step {s.step} (non-finite loss); resume from an earlier checkpoint with a lower lr"
        )
    if s.d.master:
        keys = ("loss_d", "loss_g", "real_score", "fake_score")
        s.run.append_log(
            {
                "step": s.step,
                "epoch": epoch,
                "lr": lr,
                **dict(zip(keys, vals)),
                "maps_per_s": rate,
                "time_s": now - s.t0,
            }
        )
        eta = (s.total_steps - s.step) * s.cfg.batch_size / max(rate, 1e-9)
        eta = min(eta, max(0.0, _seconds_left(s)))  # a time budget ends the run before its steps do
        s.log(
            f"step {s.step}/{s.total_steps} epoch {epoch} loss_d {vals[0]:.3f} loss_g {vals[1]:.3f} "
            f"D(x) {vals[2]:.2f} D(G(z)) {vals[3]:.2f} {rate:.0f} maps/s ETA {eta:.0f}s"
        )
    return now


def _finish(s: State, out: Path) -> None:
    """Prove the DDP ranks stayed in sync; name the best checkpoint (what ``score``/``sample`` will load)."""
    if s.d.ddp:
        sums = distributed.parameter_checksums(s.d, s.Gm)
        if s.d.master:
            s.run.update(ddp_parameter_checksums=sums)
    if s.d.master and s.run.best:
        s.log(f"best checkpoint: {s.run.best} (validation score {s.run.manifest['best_score']:.4g}), in {out}")
