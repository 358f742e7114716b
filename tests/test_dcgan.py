"""The reference plugin cosmogan-dcgan: architecture, training, resume, interrupts, scoring a run."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from cosmogan_dcgan.config import DCGANConfig, TrainConfig
from cosmogan_dcgan.model import CosmoGANDCGAN
from cosmogan_dcgan.networks import Discriminator, Generator, init_weights
from cosmogan_dcgan.train import fit_transform, validate
from cosmogan_dcgan.trainer import DCGANTrainer
from emubench import TrainRequest
from emubench.checkpoint import load_checkpoint, read_manifest
from emubench.data import open_dataset, split
from emubench.errors import EmubenchError


def test_full_size_architecture_matches_thesis_tables():
    cfg = DCGANConfig()
    g, d = Generator(cfg), Discriminator(cfg)
    z = torch.randn(2, 64)
    x = g(z)
    assert x.shape == (2, 1, 256, 256) and x.abs().max() <= 1
    assert d(x).shape == (2, 1)
    assert g.fc.out_features == 512 * 16 * 16
    deconvs = [m for m in g.modules() if isinstance(m, torch.nn.ConvTranspose2d)]
    assert [(m.in_channels, m.out_channels, m.kernel_size, m.stride) for m in deconvs] == [
        (512, 256, (5, 5), (2, 2)),
        (256, 128, (5, 5), (2, 2)),
        (128, 64, (5, 5), (2, 2)),
        (64, 1, (5, 5), (2, 2)),
    ]
    convs = [m for m in d.modules() if isinstance(m, torch.nn.Conv2d)]
    assert [(m.in_channels, m.out_channels) for m in convs] == [(1, 64), (64, 128), (128, 256), (256, 512)]
    assert sum(isinstance(m, torch.nn.BatchNorm2d) for m in d.modules()) == 3
    assert d.fc.in_features == 512 * 16 * 16


def test_small_variant_and_bad_config():
    g = Generator(DCGANConfig(npix=64, width=32))
    assert g(torch.randn(3, 64)).shape == (3, 1, 64, 64)
    with pytest.raises(EmubenchError, match="not divisible"):
        DCGANConfig(npix=100)


def test_presets_and_config_errors():
    t = DCGANTrainer()
    thesis = t.make_config("thesis", {})
    assert thesis["schedule"][0] == (30, 2e-5) and thesis["flip"] == 0.03 and thesis["epochs"] == 50
    assert t.make_config("cosmogan", {})["flip"] == 0.01
    with pytest.raises(EmubenchError, match="unknown preset 'fast'"):
        t.make_config("fast", {})
    with pytest.raises(EmubenchError, match="unknown config key"):
        t.make_config("smoke", {"learning_rate": 1})
    with pytest.raises(EmubenchError, match="batch_size must be positive"):
        t.make_config("smoke", {"batch_size": 0})
    # the conditional presets choose the data; the parameters and their ranges come from it, never from -c
    assert t.make_config("cosmo-smoke", {})["dataset"] == "lognormal-cosmo-64"
    assert t.make_config("cosmo", {})["dataset"] == "lognormal-cosmo"
    with pytest.raises(EmubenchError, match="unknown config key"):
        t.make_config("cosmo-smoke", {"params": ["omega_m"]})
    with pytest.raises(EmubenchError, match="mismatch must be in"):
        t.make_config("cosmo-smoke", {"mismatch": 1})


TINY = dict(width=8, batch_size=16, val_maps=32, ckpt_every=4, log_every=2, keep_last=10)


def _train(out, max_steps, resume=False, n_maps=300, **extra):
    ms = open_dataset("lognormal-lcdm-64", n_maps=n_maps)
    t = DCGANTrainer()
    cfg = t.make_config("smoke", {**TINY, "max_steps": max_steps, **extra})
    return t.train(
        TrainRequest(
            model="cosmogan-dcgan",
            splits=split(ms, 0),
            mapset=ms,
            split_seed=0,
            config=cfg,
            out=out,
            resume=resume,
            device="cpu",
            quiet=True,
        )
    )


@pytest.mark.slow
def test_resume_repeats_an_uninterrupted_run_exactly(tmp_path):
    straight = _train(tmp_path / "a", 10)
    _train(tmp_path / "b", 5)
    resumed = _train(tmp_path / "b", 10, resume=True)
    ma, mb = read_manifest(straight), read_manifest(resumed)
    sa, sb = load_checkpoint(straight, ma, "step-0000010"), load_checkpoint(resumed, mb, "step-0000010")
    for net in ("generator", "discriminator"):
        for k in sa[net]:
            assert torch.equal(sa[net][k], sb[net][k]), f"{net}.{k} differs after resume"
    log = [json.loads(line) for line in (resumed / "log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in log if "loss_d" in r] == [2, 4, 5, 6, 8, 10]
    assert (resumed / "samples").is_dir() and any((resumed / "samples").iterdir())
    with pytest.raises(EmubenchError, match="already holds a run"):
        _train(tmp_path / "a", 10)


@pytest.mark.slow
def test_a_time_budget_stops_mid_epoch_validates_and_resumes_only_when_raised(tmp_path):
    # max_minutes is how two models are compared at equal cost: the run stops at the first step past the budget,
    # validates there (the best checkpoint is chosen on every epoch, the cut one too) and records its steps
    run = _train(tmp_path / "r", None, epochs=1000, max_minutes=0.02)
    m = read_manifest(run)
    steps = max(c["step"] for c in m["checkpoints"].values())
    log = [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines()]
    assert 0 < steps < 1000 * 13 and log[-1]["step"] == steps and "validation" in log[-1]
    assert m["train_config"]["max_minutes"] == 0.02 and m["best"] in m["checkpoints"]
    with pytest.raises(EmubenchError, match="time budget of 0.02 min is spent"):
        _train(run, None, resume=True, epochs=1000, max_minutes=0.02)
    spent = max(c["train_seconds"] for c in m["checkpoints"].values()) / 60  # validation included
    _train(run, None, resume=True, epochs=1000, max_minutes=spent + 0.02)
    assert max(c["step"] for c in read_manifest(run)["checkpoints"].values()) > steps
    with pytest.raises(EmubenchError, match="max_minutes must be positive"):
        DCGANTrainer().make_config("smoke", {"max_minutes": 0})


@pytest.mark.slow
def test_resume_skips_a_corrupt_latest_checkpoint(tmp_path):
    run = _train(tmp_path / "r", 8)
    m = read_manifest(run)
    latest = run / m["checkpoints"][m["latest"]]["file"]
    latest.write_bytes(latest.read_bytes()[:100])
    with pytest.raises(EmubenchError, match="last good checkpoint"):
        load_checkpoint(run, m)
    _train(run, 12, resume=True)  # falls back to the last complete checkpoint
    assert read_manifest(run)["checkpoints"]["step-0000012"]["step"] == 12


@pytest.mark.slow
def test_run_folder_scores_end_to_end(tmp_path, monkeypatch, trained_run):
    run = trained_run
    model, prov = __import__("emubench.models", fromlist=["resolve_model"]).resolve_model(str(run), None)
    # the manifest records one network: the train config's is the one built (npix 64 from the data, not 256)
    assert prov["manifest"]["train_config"]["model"] == prov["manifest"]["model_config"]
    assert prov["manifest"]["model_config"]["npix"] == 64
    maps = model.sample(5, seed=0)
    assert maps.shape == (5, 64, 64) and maps.dtype == np.float32 and np.isfinite(maps).all()
    assert isinstance(model, CosmoGANDCGAN)
    # the epoch's sample grid: a PNG that decodes to a square grid of 64² maps with 2-pixel gaps
    from PIL import Image

    grids = sorted((run / "samples").glob("epoch-*.png"))
    assert grids, "no sample grid written"
    with Image.open(grids[-1]) as im:
        im.load()
        assert im.mode == "L" and im.size[0] == im.size[1] and (im.size[0] + 2) % 66 == 0, (im.mode, im.size)
        assert len(np.unique(np.asarray(im))) > 50  # maps, not a blank canvas
    # its score report shows its training history and its cost (the generator's weights, its training time)
    from click.testing import CliRunner

    monkeypatch.setenv("EMUBENCH_VECTOR_FIGURES", "1")
    from emubench.cli import cli

    args = ["-q", "score", "--model", str(run), "-n", "40", "--metric", "pixel-ks", "--floor-draws", "50"]
    res = CliRunner().invoke(cli, [*args, "--out", str(tmp_path / "rep")], obj={})
    assert res.exit_code == 0, res.output
    page = (tmp_path / "rep" / "report.html").read_text()
    assert (
        '<h2 id="training">Training history</h2>' in page and (tmp_path / "rep/figures/training-history.pdf").exists()
    )
    cost = json.loads((tmp_path / "rep" / "score.json").read_text())["cost"]
    assert cost["parameters"] == model.n_parameters and cost["training"]["seconds"] > 0
    assert f"{cost['training']['steps']} steps on cpu" in page


@pytest.mark.slow
def test_short_smoke_training_improves_ks_and_power_spectrum(tmp_path):
    """The smoke preset for a short budget beats the untrained generator on both validation statistics."""
    ms = open_dataset("lognormal-lcdm-64", n_maps=2048)
    splits = split(ms, 0)
    t = DCGANTrainer()
    cfg = t.make_config("smoke", {"max_steps": 22, "val_maps": 128})  # one epoch: KS and P(l) fall from the start
    from emubench import get_transform

    tc = TrainConfig.from_dict(cfg)
    torch.manual_seed(tc.seed)
    g0 = Generator(DCGANConfig(npix=64, width=tc.model.width))
    g0.apply(init_weights)
    tinfo = fit_transform(tc, splits["train"])
    before = validate(g0, get_transform(tinfo["name"], **tinfo["params"]), splits, tc, "cpu", seed=1)
    run = t.train(
        TrainRequest(
            model="cosmogan-dcgan",
            splits=splits,
            mapset=ms,
            split_seed=0,
            config=cfg,
            out=tmp_path / "smoke",
            resume=False,
            device="cpu",
            quiet=True,
        )
    )
    log = [json.loads(x) for x in (run / "log.jsonl").read_text().splitlines()]
    after = [r["validation"] for r in log if "validation" in r][-1]
    assert after["ks_D"] < before["ks_D"], (before, after)
    assert after["ps_dev"] < before["ps_dev"], (before, after)


@pytest.mark.slow
def test_conditional_dcgan_trains_across_cosmologies_and_samples_at_any(tmp_path):
    """Maps of several cosmologies make cosmogan-dcgan conditional on (Ωm, σ8): the parameters' training ranges
    are in the manifest, validation runs at the design's centre and corners (never a held-out cosmology) and
    reports how κ rms responds to each parameter, the run's model takes ``params`` (one vector or one per map,
    with the same latents for a seed), and ``emubench score`` scores it at every cosmology."""
    from click.testing import CliRunner

    from emubench.cli import cli
    from emubench.models import resolve_model

    ms = open_dataset("lognormal-cosmo-64", n_per_cosmology=32)
    splits = split(ms, 0)
    t = DCGANTrainer()
    cfg = t.make_config("cosmo-smoke", {**TINY, "max_steps": 6, "val_maps": 8})
    assert cfg["dataset"] == "lognormal-cosmo-64"
    run = t.train(TrainRequest("cosmogan-dcgan", splits, ms, 0, cfg, tmp_path / "c", quiet=True))
    m = read_manifest(run)["model_config"]
    assert (m["params"], m["param_lo"], m["param_hi"]) == (["omega_m", "sigma8"], [0.2, 0.7], [0.34, 0.9])
    v = [json.loads(x)["validation"] for x in (run / "log.jsonl").read_text().splitlines() if "validation" in x][-1]
    at = {(c["omega_m"], c["sigma8"]) for c in v["cosmologies"]}
    assert at == {(0.27, 0.8), (0.2, 0.7), (0.2, 0.9), (0.34, 0.7), (0.34, 0.9)}, at
    assert v["response"]["sigma8"]["real"] > 0.05  # real maps: κ rms grows with σ8
    assert np.isfinite(v["response"]["sigma8"]["generated"]) and np.isfinite(v["score"])

    model, _ = resolve_model(str(run), None)
    assert model.parameters == ("omega_m", "sigma8")
    a = model.sample(4, seed=0, params=[0.27, 0.80])
    assert a.shape == (4, 64, 64) and a.dtype == np.float32 and np.isfinite(a).all()
    np.testing.assert_array_equal(a, model.sample(4, seed=0, params=np.tile([0.27, 0.80], (4, 1))))
    assert not np.array_equal(a, model.sample(4, seed=0, params=[0.20, 0.90]))  # same latents, other cosmology
    for bad, match in ((None, "conditioned on omega_m, sigma8"), ([0.3], "shape"), ([np.nan, 0.8], "finite")):
        with pytest.raises(EmubenchError, match=match):
            model.sample(4, seed=0, params=bad)
    # emubench sample takes the parameters with -p, all of them and no others
    npy = tmp_path / "at.npy"
    res = CliRunner().invoke(cli, ["sample", "--model", str(run), "-n", "4", "-p", "omega_m=0.27", "-p", "sigma8=0.8",
                                   "--out", str(npy)], obj={})  # fmt: skip
    assert res.exit_code == 0 and "at omega_m=0.27, sigma8=0.8" in res.output, res.output
    np.testing.assert_array_equal(np.load(npy), a)
    for bad in (["-p", "omega_m=0.27"], ["-p", "omega_m=0.27", "-p", "sigma8=0.8", "-p", "h=0.7"], []):
        res = CliRunner().invoke(cli, ["sample", "--model", str(run), "-n", "4", *bad, "--out", str(npy)], obj={})
        assert res.exit_code != 0 and "conditioned on omega_m, sigma8" in res.output, res.output
    # the unconditional networks are CosmoGAN's, layer for layer (checkpoints of unconditional runs still load)
    assert not any("embed" in k for k in Discriminator(DCGANConfig(npix=64, width=8)).state_dict())

    out = tmp_path / "report"
    args = ["-q", "score", "--model", str(run), "-n", "4", "--metric", "pixel-ks", "--floor-draws", "50"]
    res = CliRunner().invoke(cli, [*args, "--out", str(out)], obj={})
    assert res.exit_code == 0, res.output
    summary = __import__("pandas").read_csv(out / "summary.csv")
    assert set(summary["cosmology"]) == {"train", "heldout"}
    assert set(summary.query("cosmology == 'train'")["cosmologies"]) == {25}
    # its cost: the generator's weights, and the training recorded by the run (steps, seconds, hardware)
    cost = json.loads((out / "score.json").read_text())["cost"]
    assert cost["parameters"] == model.n_parameters == sum(p.numel() for p in model.generator.parameters())
    manifest = json.loads((run / "manifest.json").read_text())
    last = manifest["checkpoints"][manifest["latest"]]
    assert cost["training"]["steps"] == last["step"] > 0 and cost["training"]["seconds"] == last["train_seconds"] > 0
    assert cost["training"]["device"] == "cpu" and cost["sample_ms_per_map"] > 0


@pytest.mark.slow
def test_sigint_writes_a_checkpoint_and_exits_cleanly(tmp_path):
    out = tmp_path / "int"
    cmd = [
        sys.executable,
        "-m",
        "emubench.cli",
        "train",
        "cosmogan-dcgan",
        "--preset",
        "smoke",
        "--dataset",
        "lognormal-lcdm-64",
        "-D",
        "n_maps=300",
        "--out",
        str(out),
        "--max-steps",
        "100000",
        "-c",
        "width=8",
        "-c",
        "log_every=1",
        "-c",
        "ckpt_every=100000",
        "--device",
        "cpu",
    ]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.time() + 120
    for line in proc.stdout:
        if "step 3/" in line or time.time() > deadline:
            break
    proc.send_signal(signal.SIGINT)
    rest = proc.communicate(timeout=120)[0]
    assert proc.returncode == 0, rest
    assert "interrupted at step" in rest
    m = read_manifest(out)
    step = m["checkpoints"][m["latest"]]["step"]
    assert step >= 3
    assert load_checkpoint(out, m)["step"] == step


@pytest.mark.slow
def test_gpu_benchmark_script_dry_run(tmp_path):
    root = Path(__file__).resolve().parents[1]
    res = subprocess.run(
        ["bash", str(root / "bench" / "gpu.sh"), "--dry-run", "--out-dir", str(tmp_path)],
        capture_output=True,
        text=True,
    )
    assert res.returncode == 0, res.stderr
    train = json.loads((tmp_path / "gpu-train.json").read_text())
    assert train["dry_run"] and train["maps_per_s"] > 0 and train["npix"] == 64
    scored = json.loads((tmp_path / "gpu-score.json").read_text())
    assert scored["dry_run"] and scored["npix"] == 64 and scored["n_per_set"] == 48
    assert set(scored["score_s_per_metric"]) >= {"pixel-ks", "power-spectrum", "minkowski", "peaks", "memorisation"}
    assert scored["score_s"] > 0 and scored["ps_mf_device_vs_cpu"] > 0 and scored["loader_ratio"] > 0
    diffusion = json.loads((tmp_path / "gpu-diffusion.json").read_text())
    assert diffusion["dry_run"] and diffusion["npix"] == 64 and diffusion["sampling"] == "DDIM, 2 steps"
    assert diffusion["train_maps_per_s"] > 0 and diffusion["sample_maps_per_s"] > 0


@pytest.mark.slow
def test_ddp_two_processes_gloo_stay_in_sync_and_load_in_one(tmp_path):
    import socket

    out = tmp_path / "ddp"
    with socket.socket() as sock:  # a free port on loopback for the rendezvous
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--nproc_per_node=2",
        "--master_addr=127.0.0.1",
        f"--master_port={port}",
        "-m",
        "emubench.cli",
        "-q",
        "train",
        "cosmogan-dcgan",
        "--preset",
        "smoke",
        "--dataset",
        "lognormal-lcdm-64",
        "-D",
        "n_maps=300",
        "-c",
        "width=8",
        "-c",
        "val_maps=32",
        "--max-steps",
        "4",
        "--batch-size",
        "16",
        "--device",
        "cpu",
        "--out",
        str(out),
    ]
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=600, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert res.returncode == 0, res.stderr[-2000:]
    m = read_manifest(out)
    assert m["world_size"] == 2
    sums = m["ddp_parameter_checksums"]
    assert len(sums) == 2 and sums[0] == sums[1], "ranks drifted apart"
    from emubench.models import resolve_model

    model, _ = resolve_model(str(out), None)
    assert model.sample(3, seed=0).shape == (3, 64, 64)
