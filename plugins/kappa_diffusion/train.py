"""Training loop of the diffusion reference model, top to bottom (the shape of cosmogan-dcgan's train.py).

``train`` locks the run folder and calls the three parts a reader follows in order:

1. ``setup``: the config (the run's own on ``--resume``, where only the budget can be extended), the data, the
   denoiser, its EMA copy and the optimiser, then the one branch that differs on resume: the newest good
   checkpoint's state, or a new run folder. It returns a ``State``, the same either way.
2. ``train_step``: one DDPM step (Ho et al. 2020): each map under a random symmetry of the square, a random
   timestep and Gaussian noise; the denoiser predicts the noise; mean squared error; Adam; the EMA follows.
3. ``end_of_epoch``: validation of the EMA denoiser's samples with the scoring code (``emubench.validate_generator``:
   pixel KS, power spectrum, near-copies of training maps), the sample grid, a checkpoint, the best checkpoint.

The loop (``_loop``) logs every ``log_every`` steps, checkpoints every ``ckpt_every`` steps and on SIGINT/SIGTERM.
Data order is a function of (seed, epoch), and the noise/timestep/symmetry RNG state, the EMA and Adam's moments
are checkpointed, so a resumed run repeats an uninterrupted one step for step (on CPU).

Maps of several cosmologies (``MapSet.params``) make the denoiser conditional on their parameters: every batch
carries its maps' parameters, and validation runs at a few training cosmologies and logs how κ rms responds to
each parameter. One process, one device (no DDP: the GPU recipe fits one GPU).

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

import numpy as np
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
    fit_sample,
    get_transform,
    grid_params,
    grid_png,
    resume_point,
    say,
    training_folder,
    validate_generator,
)
from emubench.stats import fast_bf16, random_symmetries

from .config import TrainConfig
from .networks import EMA, Denoiser, denoise, scheduler, to_kappa

TRAINER = "kappa-diffusion-trainer"


# Every random stream of training (a run is a pure function of its seed; see cosmogan-dcgan's seeds.py).
def data_order(seed: int, epoch: int) -> int:
    """The permutation of the training maps in ``epoch``: nothing to save, identical after a resume."""
    return seed * 100_003 + epoch


def step_stream(seed: int) -> int:
    """Noise, timesteps and symmetries of the steps (checkpointed, so a resume continues it)."""
    return seed * 7919


def validation_stream(seed: int) -> int:
    """The noise validation samples from at every epoch (the same each epoch: epochs compare)."""
    return seed + 1


SAMPLE_GRID = 12345  # the grid's noise: the same in every run, so two runs' grids compare


@dataclass
class State:
    """Everything the loop reads and changes, built by ``setup`` (the same for a fresh and a resumed run)."""

    cfg: TrainConfig
    device: str
    run: RunFolder
    log: Callable[[str], None]
    progress: bool  # a progress bar on a terminal (not --quiet)
    splits: dict[str, MapSet]
    batches: Batches
    transform: Any
    model: Denoiser
    ema: EMA
    opt: torch.optim.Optimizer
    rng: torch.Generator
    amp: bool
    forward: Any  # the DDPM scheduler of the forward process (add_noise)
    total_steps: int
    step: int = 0
    best: float | None = None  # the best validation score so far (lower is better)
    stale: int = 0  # epochs since it improved (early stopping)
    seconds_before: float = 0.0  # training time of the sessions before a resume, up to its checkpoint
    t0: float = 0.0  # when this session's loop started (perf_counter)

    @property
    def conditional(self) -> bool:
        return bool(self.model.cfg.params)

    @property
    def autocast(self) -> torch.autocast:
        return torch.autocast("cuda" if self.device.startswith("cuda") else "cpu", torch.bfloat16, enabled=self.amp)


def train(request: TrainRequest) -> Path:
    """Lock the run folder, train, release; a run that failed before writing anything leaves no folder."""
    log = (lambda msg: None) if request.quiet else (lambda msg: say(f"[train] {msg}"))
    with training_folder(request.out, request.resume) as out:
        s = setup(request, log)
        _loop(s)
        if s.run.best:
            log(f"best checkpoint: {s.run.best} (validation score {s.run.manifest['best_score']:.4g}), in {out}")
    return out


def _loop(s: State) -> None:
    """Steps until the budget, an interrupt (checkpoint written) or early stopping."""
    cfg = s.cfg
    acc, acc_n = torch.zeros((), device=s.device), 0  # the summed loss; read only when logging
    s.t0 = t_last = time.perf_counter()
    bar = Bar("training", total=s.total_steps, unit="steps", enabled=s.progress)
    with StopOnSignal() as stop, bar:
        bar.n = s.step  # a resumed run's bar starts where its checkpoint was
        while s.step < s.total_steps:
            epoch = s.step // s.batches.steps_per_epoch
            acc += train_step(s, *s.batches(s.step))
            s.step, acc_n = s.step + 1, acc_n + 1
            bar.update()
            if s.step % cfg.log_every == 0 or s.step == s.total_steps:  # the only host synchronisation
                t_last = _log_progress(s, epoch, float(acc) / acc_n, acc_n, t_last)
                acc.zero_()
                acc_n = 0
            if cfg.max_minutes and _seconds_left(s) <= 0:
                s.total_steps = s.step  # the time budget is spent: this step is the last, and ends an epoch
                s.log(f"time budget of {cfg.max_minutes:g} min spent at step {s.step}: validating and stopping")
            if s.step % s.batches.steps_per_epoch == 0 or s.step == s.total_steps:
                end_of_epoch(s, epoch)
            elif s.step % cfg.ckpt_every == 0 or stop.flag:
                checkpoint(s, epoch=epoch)
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


def setup(request: TrainRequest, log: Callable[[str], None]) -> State:
    """Config, data, denoiser, EMA and optimiser; then the one resume branch (see the module docstring)."""
    train_set, device = request.splits["train"], request.device
    cfg = TrainConfig.from_dict(request.config)
    run = None
    if request.resume:  # the run's own config wins; only the budget can be extended
        run = RunFolder.open(request.out)
        budget = {k: getattr(cfg, k) for k in ("epochs", "max_steps", "max_minutes") if getattr(cfg, k) is not None}
        cfg = TrainConfig.from_dict(run.manifest["train_config"]).with_overrides(budget)
        run.check_data(request.mapset)
    # the network the data asks for: its npix, its clip range, and the parameters of maps of several cosmologies
    tinfo, clip = (run.manifest["transform"], cfg.model.clip) if run else fit_transform(cfg, train_set)
    cfg = replace(cfg, model=replace(cfg.model, npix=train_set.npix, clip=clip, **conditioning(train_set)))
    torch.manual_seed(cfg.seed)
    transform = get_transform(tinfo["name"], **tinfo["params"])
    batches = Batches(train_set, transform, cfg, device)
    model = Denoiser(cfg.model).to(device)
    ema = EMA(model, cfg.ema)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr_at(0))
    rng = torch.Generator(device=device).manual_seed(step_stream(cfg.seed))
    step, best, seconds_before = 0, None, 0.0
    if run is not None:
        step, best, seconds_before = _restore(run, model, ema, opt, rng, log)
        amp = bool(run.manifest.get("amp_bf16"))  # a resumed run keeps its precision, even on other hardware
    else:
        amp = fast_bf16(device) if cfg.amp == "auto" else bool(cfg.amp)
        run = _create_run(request, cfg, tinfo, amp)
    total_steps = cfg.epochs * batches.steps_per_epoch
    if cfg.max_steps:
        total_steps = min(total_steps, int(cfg.max_steps))
    check_time_budget(request.out, cfg.max_minutes, seconds_before)
    run.truncate_log(step)  # a resumed run drops the log lines written after its checkpoint
    log(
        f"{request.model} {cfg.model.npix}² U-Net {'·'.join(map(str, cfg.model.channels))}, "
        f"{sum(p.numel() for p in model.parameters()) / 1e6:.2f}M params, {batches.n} training maps, "
        f"{batches.steps_per_epoch} steps/epoch, {total_steps} steps on {device}{' (bf16)' if amp else ''}"
    )
    return State(
        cfg=cfg,
        device=device,
        run=run,
        log=log,
        progress=not request.quiet,
        splits=request.splits,
        batches=batches,
        transform=transform,
        model=model,
        ema=ema,
        opt=opt,
        rng=rng,
        amp=amp,
        forward=scheduler(cfg.model, "ddpm"),
        total_steps=total_steps,
        step=step,
        best=best,
        seconds_before=seconds_before,
    )


def fit_transform(cfg: TrainConfig, train_set: MapSet) -> tuple[dict, float]:
    """The pixel transform fitted on the training split, and the clip range of samples in its units.

    CosmoGAN's (``emubench.fit_cosmogan_transform``; over every cosmology for maps of several) unless the config
    gives its parameters, divided by twice the standard deviation of the training pixels (their spread then
    matches the noise's: at CosmoGAN's scale it is a fifth of it, and the model spends its capacity on noise);
    or the identity. The clip is 1.1 × the largest |value| of the fitted maps, kept where the inverse is finite."""
    spread = train_set.params is not None and len(train_set.cosmologies()) > 1
    sample = fit_sample(train_set, spread=spread)
    if cfg.transform == "identity":
        return {"name": "identity", "params": {}}, float(1.1 * np.abs(sample).max())
    tinfo = fit_cosmogan_transform(train_set, spread=spread, shift=cfg.transform_shift, a=cfg.transform_a)
    s = get_transform("cosmogan", **tinfo["params"]).forward(sample.astype(np.float64))
    scale = float(2 * s.std())
    tinfo["params"]["scale"] = scale
    return tinfo, float(min(1.1 * np.abs(s).max(), 0.999) / scale)


class Batches:
    """The training maps of each step (b, 1, npix, npix) in training units, and their scaled parameters (b, P) or
    None. The order is a pure function of (seed, epoch); on a GPU with room the whole split is kept there."""

    def __init__(self, train_set: MapSet, transform: Any, cfg: TrainConfig, device: str):
        self.train_set, self.transform, self.device = train_set, transform, device
        self.seed, self.bs, self.n = cfg.seed, cfg.batch_size, len(train_set)
        self.steps_per_epoch = max(1, self.n // self.bs)
        self.theta = None
        if cfg.model.params:
            self.theta = torch.from_numpy(cfg.model.scale_params(train_set.params, self.n)).to(device)
        self.resident = None
        if device.startswith("cuda") and self.n * train_set.npix**2 * 4 < 0.5 * torch.cuda.mem_get_info()[0]:
            self.resident = torch.empty((self.n, 1, train_set.npix, train_set.npix), device=device)
            for s in range(0, self.n, 4096):
                chunk = torch.from_numpy(train_set.get(slice(s, min(self.n, s + 4096))))
                self.resident[s : s + len(chunk), 0] = transform.forward(chunk.to(device))

    def __call__(self, step: int) -> tuple[torch.Tensor, torch.Tensor | None]:
        epoch, b = divmod(step, self.steps_per_epoch)
        perm = torch.randperm(self.n, generator=torch.Generator().manual_seed(data_order(self.seed, epoch)))
        idx = torch.sort(perm[b * self.bs : (b + 1) * self.bs]).values  # ascending reads from a memory-mapped file
        theta = None if self.theta is None else self.theta[idx.to(self.device)]
        if self.resident is not None:
            return self.resident[idx.to(self.device)], theta
        maps = torch.from_numpy(self.train_set.get(idx.numpy()))
        return self.transform.forward(maps).unsqueeze(1).to(self.device, non_blocking=True), theta


def _restore(run: RunFolder, model, ema: EMA, opt, rng: torch.Generator, log) -> tuple[int, float | None, float]:
    """Load the newest good checkpoint into the denoiser, its EMA, Adam and the RNG: (step, best score, seconds
    trained before it); a run killed before its first checkpoint starts again from step 0."""
    state, step, best, seconds = resume_point(run, log)
    if state is not None:
        model.load_state_dict(state["model"])
        ema.model.load_state_dict(state["ema"])
        opt.load_state_dict(state["opt"])
        rng.set_state(state["rng"])
    return step, best, seconds


def _create_run(request: TrainRequest, cfg: TrainConfig, tinfo: dict, amp: bool) -> RunFolder:
    try:
        version = importlib.metadata.version("emubench")  # the distribution that ships this plugin
    except importlib.metadata.PackageNotFoundError:
        version = "unknown"
    return RunFolder.create(
        request.out,
        model=request.model,
        mapset=request.mapset,
        split_seed=request.split_seed,
        seed=cfg.seed,
        model_config=asdict(cfg.model),
        trainer=TRAINER,
        plugin={"name": "kappa-diffusion", "version": version},
        train_config=cfg.to_dict(),
        transform=tinfo,
        device=request.device,
        world_size=1,
        amp_bf16=amp,
    )


# 2. the step -------------------------------------------------------------------------------------------------------


def train_step(s: State, x0: torch.Tensor, theta: torch.Tensor | None) -> torch.Tensor:
    """One DDPM step on the batch x0 (b, 1, npix, npix) in training units, with its parameters (b, P) or None;
    returns the loss as a tensor, not read here (no host synchronisation)."""
    cfg = s.cfg
    if cfg.augment:
        x0 = random_symmetries(x0, s.rng)
    noise = torch.randn(x0.shape, generator=s.rng, device=s.device)
    t = torch.randint(0, cfg.model.timesteps, (x0.shape[0],), generator=s.rng, device=s.device)
    with s.autocast:
        pred = s.model(s.forward.add_noise(x0, noise, t), t, theta)
    loss = F.mse_loss(pred.float(), noise)
    for group in s.opt.param_groups:
        group["lr"] = cfg.lr_at(s.step)
    s.opt.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(s.model.parameters(), cfg.grad_clip)
    s.opt.step()
    s.ema.update(s.model, s.step)
    return loss.detach()


# 3. the end of an epoch, checkpoints, logging ----------------------------------------------------------------------


def end_of_epoch(s: State, epoch: int) -> None:
    """Validation of the EMA denoiser, the sample grid, a checkpoint and the best checkpoint."""
    cfg, mcfg = s.cfg, s.model.cfg
    seed = validation_stream(cfg.seed)

    def generate(n: int, theta: np.ndarray | None) -> np.ndarray:
        return _sample(s, n, seed, None if theta is None else mcfg.scale_params(theta, n), cfg.val_steps)

    v = validate_generator(
        generate, s.splits, n=cfg.val_maps, seed=seed, params=mcfg.params, param_range=(mcfg.param_lo, mcfg.param_hi)
    )
    theta = grid_params(len(mcfg.params)) if mcfg.params else None
    s.run.write_bytes(f"samples/epoch-{epoch:03d}.png", grid_png(_sample(s, 16, SAMPLE_GRID, theta, cfg.val_steps)))
    s.run.append_log({"step": s.step, "epoch": epoch, "validation": v})
    s.log(
        f"epoch {epoch} validation ({cfg.val_steps} DDIM steps): KS D {v['ks_D']:.4f} (floor {v['ks_floor']:.4f}), "
        f"P(ℓ) rms log ratio {v['ps_dev']:.3f} (floor {v['ps_dev_floor']:.3f}), χ²/dof {v['ps_chi2']:.1f}, "
        f"near-copies of training maps {v['copies']:.1%}{' (memorisation flagged)' if v['copies_flagged'] else ''}"
        + (f" (worst of {len(v['cosmologies'])} cosmologies)" if s.conditional else "")
    )
    if s.conditional:
        s.log(
            f"epoch {epoch} response of ln κ rms to each parameter (middle → top of its range): "
            + ", ".join(f"{p} real {r['real']:+.3f} generated {r['generated']:+.3f}" for p, r in v["response"].items())
        )
    name = checkpoint(s, epoch=epoch, validation=v)
    if s.best is None or v["score"] < s.best:
        s.best, s.stale = v["score"], 0
        s.run.set_best(name, best_score=s.best)
    else:
        s.stale += 1


def _sample(s: State, n: int, seed: int, theta: np.ndarray | None, steps: int) -> np.ndarray:
    """n maps (n, npix, npix) κ from the EMA denoiser with DDIM in ``steps`` steps, from the noise of ``seed``."""
    gen = torch.Generator(device=s.device).manual_seed(seed)
    t = None if theta is None else torch.from_numpy(np.asarray(theta, dtype=np.float32)).to(s.device)
    x = denoise(s.ema.model, n, generator=gen, theta=t, sampler="ddim", steps=steps, device=s.device, amp=s.amp)
    return to_kappa(x, s.transform, s.model.cfg.clip).cpu().numpy()


def checkpoint(s: State, **info: Any) -> str:
    """Write the state of the step as ``step-NNNNNNN`` with ``info`` in the manifest."""
    name = f"step-{s.step:07d}"
    state = {
        "model": s.model.state_dict(),
        "ema": s.ema.model.state_dict(),
        "opt": s.opt.state_dict(),
        "rng": s.rng.get_state(),
        "step": s.step,
    }
    # the cost of the run so far (the leaderboard's training time): wall seconds of the loop, summed over
    # sessions; the work a killed session did after its last checkpoint is redone, so not counted twice
    seconds = s.seconds_before + time.perf_counter() - s.t0
    s.run.save_checkpoint(name, state, step=s.step, keep_last=s.cfg.keep_last, train_seconds=seconds, **info)
    return name


def _log_progress(s: State, epoch: int, loss: float, n_steps: int, t_last: float) -> float:
    """Log the mean loss of the last ``n_steps`` steps; stop on a non-finite loss. Returns now."""
    now = time.perf_counter()
    rate = n_steps * s.cfg.batch_size / max(now - t_last, 1e-9)
    if not math.isfinite(loss):
        raise EmubenchError(
            f"training diverged at step {s.step} (non-finite loss); resume from an earlier checkpoint with a lower lr"
        )
    lr = s.cfg.lr_at(s.step - 1)
    s.run.append_log({"step": s.step, "epoch": epoch, "lr": lr, "loss": loss, "maps_per_s": rate, "time_s": now - s.t0})
    eta = (s.total_steps - s.step) * s.cfg.batch_size / max(rate, 1e-9)
    eta = min(eta, max(0.0, _seconds_left(s)))  # a time budget ends the run before its steps do
    s.log(f"step {s.step}/{s.total_steps} epoch {epoch} loss {loss:.4f} lr {lr:.2e} {rate:.0f} maps/s ETA {eta:.0f}s")
    return now
