"""The diffusion reference plugin, kappa-diffusion (issue #23): config and presets, the pixel transform, sampling
deterministic in the seed with either sampler, the conditional model, training into a run folder that scores,
bit-identical runs in fresh processes and after SIGKILL at three moments, and the core without diffusers."""

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from kappa_diffusion.config import PRESETS, UNetConfig
from kappa_diffusion.model import KappaDiffusion
from kappa_diffusion.trainer import DiffusionTrainer

from emubench import EmubenchError, TrainRequest, fit_cosmogan_transform, get_transform, open_dataset, split
from emubench.cli import cli
from emubench.stats import default_ell_edges, power_spectrum

# The tests that build a network import diffusers (about 5 s on 2 cores): they are in the slow tier. The
# suite's extra [test] installs it (pyproject.toml); the last test runs the core without it.

# A denoiser small enough for the suite: two levels of 8 and 16 channels, no attention.
TINY = {"channels": [8, 16], "layers_per_block": 1, "groups": 4, "attention": False}
TINY_RUN = {**TINY, "batch_size": 16, "val_maps": 16, "val_steps": 2, "sample_steps": 3, "warmup": 2}


def test_presets_and_config_errors():
    t = DiffusionTrainer()
    smoke = t.make_config("smoke", {})
    assert smoke["dataset"] == "lognormal-lcdm-64" and smoke["model"]["channels"] == (16, 32, 64, 64)
    assert t.make_config("cosmo-smoke", {})["dataset"] == "lognormal-cosmo-64"
    hmc = t.make_config(None, {})  # the GPU recipe of Diffusion-HMC
    assert (hmc["model"]["channels"], hmc["model"]["timesteps"], hmc["lr"], hmc["ema"]) == (
        (64, 128, 256, 512),
        1000,
        2e-4,
        0.999,
    )
    assert t.make_config("cosmo", {})["dataset"] == "lognormal-cosmo"
    assert t.make_config("smoke", {"channels": [8, 16], "sample_steps": 7})["model"]["channels"] == (8, 16)
    for bad, match in (
        ({"chanels": [8]}, "unknown config key"),
        ({"sampler": "euler"}, "sampler must be one of"),
        ({"groups": 3}, "must divide every entry"),
        ({"ema": 1.0}, "ema must be in"),
        ({"params": ["omega_m"]}, "unknown config key"),  # set from the data, never by -c
    ):
        with pytest.raises(EmubenchError, match=match):
            t.make_config("smoke", bad)
    with pytest.raises(EmubenchError, match="unknown preset 'fast'"):
        t.make_config("fast", {})
    assert set(PRESETS) == {"smoke", "cosmo-smoke", "hmc", "cosmo"}


def test_pixel_transform_round_trips_through_the_statistics(small_splits):
    """The transform fitted on the training split is invertible: maps sent to training units and back have the
    same pixel values and power spectrum (to float32 precision), and training units lie inside (-1, 1)."""
    info = fit_cosmogan_transform(small_splits["train"])
    tr = get_transform(info["name"], **info["params"])
    maps = small_splits["val"].get(slice(0, 64))
    s = tr.forward(maps.astype(np.float64))
    assert (
        -1 < s.min()
        and s.max() < 1
        and abs(float(np.median(tr.forward(small_splits["train"].get(slice(0, 512)))))) < 0.05
    )
    back = tr.inverse(s).astype(np.float32)
    np.testing.assert_allclose(back, maps, rtol=0, atol=1e-6)
    side = small_splits["val"].side_deg
    edges = default_ell_edges(64, side)
    _, cl = power_spectrum(maps, side, edges)
    _, cl_back = power_spectrum(back, side, edges)
    np.testing.assert_allclose(np.asarray(cl_back), np.asarray(cl), rtol=1e-4)


def _model(params=(), seed=0, sampler="ddim", steps=4):
    from kappa_diffusion.networks import Denoiser

    ranges = {"param_lo": (0.2, 0.7)[: len(params)], "param_hi": (0.34, 0.9)[: len(params)]}
    cfg = UNetConfig(npix=16, **{**TINY, "channels": (8, 16)}, clip=0.9, params=params, **ranges)
    torch.manual_seed(seed)
    return KappaDiffusion(Denoiser(cfg), get_transform("cosmogan", a=0.05, shift=0.03), sampler=sampler, steps=steps,
                          amp=False)  # fmt: skip


@pytest.mark.slow
@pytest.mark.parametrize("sampler", ["ddim", "ddpm"])
def test_sampling_is_deterministic_in_the_seed(sampler):
    model = _model(sampler=sampler)
    a = model.sample(5, seed=3)
    assert a.shape == (5, 16, 16) and a.dtype == np.float32 and np.isfinite(a).all()
    np.testing.assert_array_equal(a, model.sample(5, seed=3))
    if sampler == "ddim":  # deterministic after the first draw: the first batch starts from the same noise
        np.testing.assert_array_equal(a[:2], model.sample(5, seed=3, batch=2)[:2])
    assert not np.array_equal(a, model.sample(5, seed=4))
    assert not np.array_equal(a, model.sample(5, seed=3, steps=2))  # the number of steps is the caller's
    assert model.sampling == f"{sampler.upper()}, 4 steps"
    with pytest.raises(EmubenchError, match="sampler must be one of"):
        model.sample(2, seed=0, sampler="euler")


@pytest.mark.slow
def test_conditional_denoiser_takes_the_parameters():
    model = _model(params=("omega_m", "sigma8"))
    assert model.parameters == ("omega_m", "sigma8")
    a = model.sample(3, seed=0, params=[0.27, 0.8])
    np.testing.assert_array_equal(a, model.sample(3, seed=0, params=np.tile([0.27, 0.8], (3, 1))))
    assert not np.array_equal(a, model.sample(3, seed=0, params=[0.2, 0.9]))
    for bad, match in ((None, "conditioned on omega_m, sigma8"), ([0.3], "shape"), ([np.nan, 0.8], "finite")):
        with pytest.raises(EmubenchError, match=match):
            model.sample(3, seed=0, params=bad)


def _train(out, max_steps, resume=False, dataset=("lognormal-lcdm-64", {"n_maps": 300}), preset="smoke", **extra):
    ms = open_dataset(dataset[0], **dataset[1])
    t = DiffusionTrainer()
    cfg = t.make_config(preset, {**TINY_RUN, "max_steps": max_steps, "ckpt_every": 3, **extra})
    request = TrainRequest("kappa-diffusion", split(ms, 0), ms, 0, cfg, out, resume=resume, device="cpu", quiet=True)
    return t.train(request)


def _weights(run, step):
    m = json.loads((run / "manifest.json").read_text())
    state = __import__("emubench").RunFolder(run, m).load_checkpoint(f"step-{step:07d}")
    return {f"{net}.{k}": v for net in ("model", "ema") for k, v in state[net].items()}


def _same(got, want, what):
    differ = [k for k in want if not torch.equal(got[k], want[k])]
    assert not differ, f"{what}: {len(differ)} of {len(want)} tensors differ, e.g. {differ[:3]}"


@pytest.mark.slow
def test_a_trained_run_validates_resumes_and_scores(tmp_path):
    """A run writes checkpoints, per-epoch validation (KS, P(ℓ), near-copies), a sample grid and its best
    checkpoint; resumed half-way it equals the uninterrupted run bit for bit; `emubench score` scores it and
    reports its cost with the sampler."""
    straight = _train(tmp_path / "a", 12)
    _train(tmp_path / "b", 7)
    resumed = _train(tmp_path / "b", 12, resume=True)
    _same(_weights(resumed, 12), _weights(straight, 12), "resumed at step 6")
    log = [json.loads(line) for line in (straight / "log.jsonl").read_text().splitlines()]
    v = [r["validation"] for r in log if "validation" in r]
    assert len(v) == 1 and {"ks_D", "ps_dev", "ps_chi2", "copies", "copies_flagged", "score"} <= set(v[0])
    assert 0 <= v[0]["copies"] <= 1 and np.isfinite(v[0]["score"])
    assert sorted(p.name for p in (straight / "samples").glob("*.png")) == ["epoch-000.png"]
    m = json.loads((straight / "manifest.json").read_text())
    assert m["best"] == "step-0000012" and m["train_config"]["model"] == m["model_config"]
    with pytest.raises(EmubenchError, match="already holds a run"):
        _train(tmp_path / "a", 12)

    out = tmp_path / "rep"
    args = ["-q", "score", "--model", str(straight), "-n", "40", "--metric", "pixel-ks", "--floor-draws", "50"]
    res = CliRunner().invoke(cli, [*args, "--out", str(out)], obj={})
    assert res.exit_code == 0, res.output
    cost = json.loads((out / "score.json").read_text())["cost"]
    assert cost["parameters"] == sum(v.numel() for k, v in _weights(straight, 12).items() if k.startswith("ema."))
    assert cost["training"]["steps"] == 12 and cost["training"]["seconds"] > 0 and cost["sampling"] == "DDIM, 3 steps"
    assert "DDIM, 3 steps" in (out / "report.html").read_text()


@pytest.mark.slow
def test_a_time_budget_stops_the_run_with_a_validation(tmp_path):
    run = _train(tmp_path / "t", None, epochs=1000, max_minutes=0.01)
    log = [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines()]
    m = json.loads((run / "manifest.json").read_text())
    assert 0 < log[-1]["step"] < 1000 * 7 and "validation" in log[-1]
    assert m["checkpoints"][m["latest"]]["step"] == log[-1]["step"]


@pytest.mark.slow
def test_conditional_run_logs_the_response_and_samples_at_any_cosmology(tmp_path):
    run = _train(tmp_path / "c", 4, dataset=("lognormal-cosmo-64", {"n_per_cosmology": 16}), preset="cosmo-smoke",
                 val_maps=8)  # fmt: skip
    m = json.loads((run / "manifest.json").read_text())["model_config"]
    assert (m["params"], m["param_lo"], m["param_hi"]) == (["omega_m", "sigma8"], [0.2, 0.7], [0.34, 0.9])
    v = [json.loads(x)["validation"] for x in (run / "log.jsonl").read_text().splitlines() if "validation" in x][-1]
    assert len(v["cosmologies"]) == 5 and v["response"]["sigma8"]["real"] > 0.05
    assert np.isfinite(v["response"]["sigma8"]["generated"]) and np.isfinite(v["response"]["omega_m"]["generated"])
    npy = tmp_path / "at.npy"
    res = CliRunner().invoke(cli, ["sample", "--model", str(run), "-n", "3", "-p", "omega_m=0.27", "-p", "sigma8=0.8",
                                   "--out", str(npy)], obj={})  # fmt: skip
    assert res.exit_code == 0 and "at omega_m=0.27, sigma8=0.8" in res.output, res.output
    assert np.load(npy).shape == (3, 64, 64) and np.isfinite(np.load(npy)).all()


TRAIN = [sys.executable, "-m", "emubench.cli", "-q", "train", "kappa-diffusion", "--preset", "smoke", "--dataset",
         "lognormal-lcdm-64", "-D", "n_maps=300", "--device", "cpu", "--max-steps", "20", "-c", "ckpt_every=3",
         "-c", "log_every=1", "-c", "keep_last=50"]  # fmt: skip
for _k, _v in TINY_RUN.items():
    TRAIN += ["-c", f"{_k}={json.dumps(_v)}"]
STEPS = 20  # 13 steps an epoch (210 training maps, batches of 16): validation at 13 and 20


def _run(out, *extra, env=None):
    resume = ["--resume"] if (out / "manifest.json").exists() else []
    return subprocess.run([*TRAIN, "--out", str(out), *resume, *extra], capture_output=True, text=True, env=env)


@pytest.mark.slow
def test_fresh_processes_and_sigkill_at_three_moments_give_the_same_weights(tmp_path):
    """Two fresh processes train the same weights (model and EMA), bit for bit; a third run is SIGKILLed at three
    moments (inside a step once step 5 is logged, before a checkpoint file is written, inside the epoch's
    validation), resumed after each, and ends with the same weights too."""
    ref = tmp_path / "ref"
    assert (r := _run(ref)).returncode == 0, r.stderr[-2000:]
    want = _weights(ref, STEPS)
    again = tmp_path / "again"
    assert (r := _run(again)).returncode == 0, r.stderr[-2000:]
    _same(_weights(again, STEPS), want, "a second fresh process")

    out = tmp_path / "killed"
    proc = subprocess.Popen([*TRAIN, "--out", str(out)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    log, deadline = out / "log.jsonl", time.time() + 300
    while not (log.exists() and '"step": 5,' in log.read_text()):
        assert proc.poll() is None and time.time() < deadline, "the run ended or stalled before step 5"
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    for failpoint in ("checkpoint:2", "validation:1"):
        r = _run(out, env={**os.environ, "EMUBENCH_FAILPOINT": failpoint})
        assert r.returncode == -signal.SIGKILL, f"{failpoint} was never reached: {r.stderr[-1000:]}"
    assert (r := _run(out)).returncode == 0, r.stderr[-2000:]
    _same(_weights(out, STEPS), want, "the run killed at three moments")


@pytest.mark.slow
def test_the_core_runs_without_diffusers(tmp_path):
    """diffusers is an optional extra: with it absent the plugin still registers (no load failure), the other
    models train and score, and training kappa-diffusion is a one-line error that says what to install."""
    block = (
        "import sys; sys.modules['diffusers'] = None; from emubench.cli import main; sys.argv[0] = 'emubench'; main()"
    )
    plugins = subprocess.run([sys.executable, "-c", block, "plugins"], capture_output=True, text=True)
    assert (
        plugins.returncode == 0
        and "kappa-diffusion" in plugins.stdout
        and "failed" not in plugins.stdout + plugins.stderr
    )
    args = ["train", "kappa-diffusion", "--preset", "smoke", "-D", "n_maps=300", "--out", str(tmp_path / "r")]
    res = subprocess.run([sys.executable, "-c", block, *args], capture_output=True, text=True)
    assert res.returncode != 0 and "pip install 'emubench[diffusion]'" in res.stderr, res.stderr
    assert len(res.stderr.strip().splitlines()) == 1 and not (tmp_path / "r").exists()
