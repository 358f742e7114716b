"""Faults survived, bad input refused, nothing lost: kills, corrupt files, full disks, malformed arrays."""

import os
import random
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from helpers import STEPS, TRAIN, env_threads
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from emubench.checkpoint import load_checkpoint, read_manifest, verified_checkpoints
from emubench.cli import cli
from emubench.errors import EmubenchError
from emubench.io import check_maps


def _env(**extra):
    return {**os.environ, "OMP_NUM_THREADS": "1", **extra}


def _final(run, step: int = STEPS):
    """The generator of the run's checkpoint at ``step``."""
    m = read_manifest(run)
    state = load_checkpoint(run, m, f"step-{step:07d}")
    return {k: v for k, v in state["generator"].items()}


EPOCH = 13  # steps per epoch of TRAIN


def _same(got: dict, want: dict, what: str) -> None:
    differ = [k for k in want if not torch.equal(got[k], want[k])]
    assert not differ, f"{what}: {len(differ)} of {len(want)} generator tensors differ from the reference run"


@pytest.mark.slow
def test_fresh_processes_train_bit_identical_weights(tmp_path, trained_run):
    """Issue #15: same seed, same machine, same bits. Seven more fresh processes of the reference run's command,
    cut at the end of its first epoch (13 steps, a validation, a sample grid and five checkpoints), one after
    another with the default threads (two at a time would oversubscribe the cores, and OpenMP's spin-waiting then
    slows both several-fold), must reach the reference's step-13 generator, bit for bit."""
    want = _final(trained_run, EPOCH)
    for i in range(7):
        out = tmp_path / f"run{i}"
        res = subprocess.run(
            [*TRAIN, "--max-steps", str(EPOCH), "--out", str(out)], env=env_threads(), capture_output=True, text=True
        )
        assert res.returncode == 0, res.stderr[-2000:]
        _same(_final(out, EPOCH), want, f"fresh process {i + 1} of 7")


def _kill_after_step(out, k: int, env, delay: float = 0.3) -> None:
    """Start (or resume) the run and SIGKILL it once step k is in its log, after a further random 0-``delay`` s
    (wherever the loop then is). Tied to progress, not wall time: a slow machine cannot turn it into a kill
    before the run existed, nor a fast one into a kill after it ended."""
    resume = ["--resume"] if (out / "manifest.json").exists() else []
    proc = subprocess.Popen(
        [*TRAIN, "--max-steps", str(STEPS), "--out", str(out), *resume],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    log, deadline = out / "log.jsonl", time.time() + 600
    while not (log.exists() and any(f'"step": {k},' in line and '"loss_d"' in line for line in log.open())):
        assert proc.poll() is None, f"the run ended before step {k}"
        assert time.time() < deadline, "the run made no progress"
        time.sleep(0.02)
    time.sleep(random.Random(k).uniform(0.0, delay))
    assert proc.poll() is None, "the run ended before the kill"
    proc.send_signal(signal.SIGKILL)
    proc.wait()


# The kill moments of one run, in order. ("step", k): a random moment once step k is logged (within 0.3 s; 0.05 s
# after step 25, so that the kill lands in the last step or the final validation, after step 24's checkpoint
# and before the run ends); otherwise an
# EMUBENCH_FAILPOINT name:hit, counted in that process from its start: "checkpoint" before a checkpoint file is
# written, "atomic-write" when a temporary file (checkpoint, manifest, log, sample grid) is complete but has not
# replaced its target, "manifest" before the manifest is rewritten, "validation" inside the per-epoch
# validation, "write-bytes" before the epoch's sample grid is written. An epoch is 13 steps, checkpoints every 3.
KILLS = [
    ("step", 2),
    ("failpoint", "checkpoint:1"),
    ("failpoint", "atomic-write:1"),
    ("failpoint", "validation:1"),  # epoch 0's validation, at step 13
    ("failpoint", "write-bytes:1"),  # epoch 0's sample grid
    ("step", 16),
    ("step", 25),
    ("failpoint", "write-bytes:1"),  # the final sample grid, at step 26
    ("failpoint", "checkpoint:1"),  # the final checkpoint
    ("failpoint", "manifest:1"),  # the final checkpoint's manifest
]


@pytest.mark.slow
def test_sigkill_at_many_moments_then_resume_is_identical(tmp_path, trained_run):
    """Issue #15: one run killed by SIGKILL at each of the 10 moments of KILLS in turn (steps, checkpoint files,
    the manifest, validation, the sample grid, the last step), resumed after each; its final generator must
    equal the uninterrupted run's, bit for bit, and after every kill the manifest on disk is complete and
    names only complete checkpoint files."""
    out = tmp_path / "run"
    for kind, what in KILLS:
        if kind == "step":
            _kill_after_step(out, what, env_threads(), delay=0.05 if what == STEPS - 1 else 0.3)
        else:
            resume = ["--resume"] if (out / "manifest.json").exists() else []
            res = subprocess.run(
                [*TRAIN, "--max-steps", str(STEPS), "--out", str(out), *resume],
                env=env_threads(EMUBENCH_FAILPOINT=what),
                capture_output=True,
                text=True,
            )
            assert res.returncode == -signal.SIGKILL, f"{what} was never reached: {res.stderr[-1000:]}"
        if (out / "manifest.json").exists():
            m = read_manifest(out)
            recorded = sorted(m.get("checkpoints", {}), key=lambda n: m["checkpoints"][n]["step"])
            assert verified_checkpoints(out, m) == recorded, f"after the kill at {what}"
    res = subprocess.run(
        [*TRAIN, "--max-steps", str(STEPS), "--out", str(out), "--resume"],
        capture_output=True,
        text=True,
        env=env_threads(),
    )
    assert res.returncode == 0, res.stderr
    _same(_final(out), _final(trained_run), "the run killed at every moment")


@pytest.mark.slow
def test_disk_full_while_writing_a_report_keeps_the_previous_one(tmp_path):
    base = [
        sys.executable,
        "-m",
        "emubench.cli",
        "-q",
        "score",
        "--model",
        "grf",
        "--dataset",
        "lognormal-lcdm-64",
        "-D",
        "n_maps=200",
        "--metric",
        "pixel-ks",
        "--floor-draws",
        "40",
        "--out",
        str(tmp_path / "rep"),
    ]
    assert subprocess.run(base, env=_env(EMUBENCH_VECTOR_FIGURES="1")).returncode == 0
    files = lambda: {p.relative_to(tmp_path): p.read_bytes() for p in (tmp_path / "rep").rglob("*") if p.is_file()}  # noqa: E731
    before = files()
    assert any(p.suffix == ".pdf" for p in before)  # the figures' vector copies are part of the report
    res = subprocess.run(
        [*base, "--seed", "5"],
        env=_env(EMUBENCH_FAILPOINT="atomic-write:2:enospc", EMUBENCH_VECTOR_FIGURES="1"),
        capture_output=True,
        text=True,
    )
    assert res.returncode == 1 and "No space left on device" in res.stderr and len(res.stderr.strip().splitlines()) == 1
    assert files() == before  # the previous report, complete and untouched
    assert [p.name for p in tmp_path.iterdir()] == ["rep"]  # no half-written folder beside it


@pytest.mark.slow
def test_disk_full_while_writing_a_checkpoint(tmp_path):
    from emubench.data import open_dataset

    open_dataset("lognormal-lcdm-64", n_maps=300)  # fill the dataset cache first: its write must not count below
    out = tmp_path / "run"
    # atomic writes: 1 manifest, 2 step-3 file, 3 manifest, 4 step-6 file, 5 manifest, 6 step-9 file (fails)
    res = subprocess.run(
        [*TRAIN, "--max-steps", "12", "--out", str(out)],
        env=_env(EMUBENCH_FAILPOINT="atomic-write:6:enospc"),
        capture_output=True,
        text=True,
    )
    assert res.returncode == 1 and "No space left on device" in res.stderr and "Traceback" not in res.stderr
    m = read_manifest(out)
    assert verified_checkpoints(out, m) == ["step-0000003", "step-0000006"]  # the checkpoints written before are intact
    assert not list((out / "checkpoints").glob(".*tmp"))


@pytest.mark.slow
def test_second_writer_is_refused(tmp_path):
    out = tmp_path / "run"
    proc = subprocess.Popen([*TRAIN, "--max-steps", "100000", "--out", str(out)], env=_env(), stdout=subprocess.DEVNULL)
    try:
        for _ in range(200):
            if (out / "manifest.json").exists():
                break
            time.sleep(0.1)
        res = subprocess.run(
            [*TRAIN, "--max-steps", "4", "--out", str(out), "--resume"], capture_output=True, text=True, env=_env()
        )
        assert res.returncode == 1 and "another process is writing this run folder" in res.stderr
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=120)


# -- malformed input, property-based ----------------------------------------------------------------

shapes = st.lists(st.integers(0, 40), min_size=0, max_size=5).map(tuple)
dtypes = st.sampled_from([np.float32, np.float64, np.float16, np.int32, np.int64, np.uint8, np.bool_, np.complex64])
specials = st.sampled_from([None, np.nan, np.inf, -np.inf])


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(shape=shapes, dtype=dtypes, special=specials)
def test_malformed_arrays_get_a_one_line_error_or_pass_validation(shape, dtype, special):
    arr = np.zeros(shape, dtype=dtype)
    if special is not None and arr.size and np.issubdtype(arr.dtype, np.floating):
        arr.reshape(-1)[arr.size // 2] = special
    try:
        maps = check_maps(arr, "input.npy")
    except EmubenchError as exc:
        msg = str(exc)
        assert msg.startswith("input.npy: ") and "\n" not in msg
        return
    assert maps.ndim == 3 and maps.shape[1] == maps.shape[2] >= 8 and len(maps) > 0
    assert np.isfinite(maps).all() and np.issubdtype(maps.dtype, np.floating)


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    shape=st.sampled_from([(3, 16, 8), (0, 16, 16), (2, 2, 16, 16), (16,), (4, 4, 4), (2, 1, 16, 16)]),
    dtype=st.sampled_from([np.float32, np.int16, np.float64]),
    special=specials,
)
def test_cli_stats_on_malformed_files(tmp_path_factory, shape, dtype, special):
    """In-process through click (the one-line error and exit status come from the same ``Group.invoke`` as in a
    shell; ``test_cli.py`` checks them in real subprocesses): a fresh interpreter per example cost 4 s each."""
    tmp = tmp_path_factory.mktemp("stats")
    arr = np.random.default_rng(0).standard_normal(shape).astype(dtype)
    if special is not None and arr.size and np.issubdtype(arr.dtype, np.floating):
        arr.reshape(-1)[0] = special
    np.save(tmp / "in.npy", arr)
    res = CliRunner().invoke(cli, ["stats", str(tmp / "in.npy"), "--side-deg", "1", "--nbins", "4"], obj={})
    valid = (
        arr.ndim in (3, 4)
        and arr.shape[-1] == arr.shape[-2] >= 8
        and arr.shape[0] > 0
        and (arr.ndim == 3 or arr.shape[1] == 1)
        and np.issubdtype(arr.dtype, np.floating)
        and special is None
    )
    if valid:
        assert res.exit_code == 0, res.stderr
    else:
        assert res.exit_code == 1 and "in.npy" in res.stderr and len(res.stderr.strip().splitlines()) == 1
        assert not (tmp / "in.npy.stats.csv").exists()
        # score --maps refuses the same file before any work, writing nothing
        args = ["score", "--maps", str(tmp / "in.npy"), "--dataset", "lognormal-lcdm-64", "-D", "n_maps=100"]
        res = CliRunner().invoke(cli, [*args, "--out", str(tmp / "rep")], obj={})
        assert res.exit_code == 1 and "in.npy" in res.stderr and len(res.stderr.strip().splitlines()) == 1
        assert not (tmp / "rep").exists()


@pytest.mark.slow
def test_huge_dimensions_in_a_header_are_refused(tmp_path):
    """A .npy header announcing 10⁹ maps of 256² over a few bytes of data: refused, nothing allocated."""
    path = tmp_path / "huge.npy"
    with open(path, "wb") as f:
        np.lib.format.write_array_header_1_0(f, {"descr": "<f4", "fortran_order": False, "shape": (10**9, 256, 256)})
        f.write(b"\0" * 64)
    res = subprocess.run(
        [sys.executable, "-m", "emubench.cli", "stats", str(path), "--side-deg", "1"], capture_output=True, text=True
    )
    assert res.returncode == 1 and "huge.npy" in res.stderr and len(res.stderr.strip().splitlines()) == 1
