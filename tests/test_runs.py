"""Run folders (RunFolder), the manifest schema, data provenance, and the cheap checks that come first."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from emubench import EmubenchError, MapSet, RunFolder
from emubench.manifest import MANIFEST_SCHEMA, validate_manifest

HERE = Path(__file__).parent


def mapset(seed=0, n=12):
    return MapSet(
        np.random.default_rng(seed).standard_normal((n, 16, 16)).astype(np.float32),
        1.0,
        "toy",
        {"dataset": "toy", "options": {"seed": seed}},
    )


def new_run(tmp_path, **extra):
    return RunFolder.create(tmp_path / "run", model="toy-model", mapset=mapset(), split_seed=0, seed=3, **extra)


def test_create_open_checkpoints_best_latest_and_rotation(tmp_path):
    import torch

    run = new_run(tmp_path, train_config={"lr": 1e-3})
    with run.lock():
        for step in (10, 20, 30, 40):
            run.save_checkpoint(f"step-{step:07d}", {"w": torch.full((2,), float(step))}, step=step, keep_last=2)
            if step == 20:
                run.set_best("step-0000020", best_score=0.5)
    again = RunFolder.open(run.path)
    assert again.latest == "step-0000040" and again.best == "step-0000020"
    # the newest two besides best are kept; older files are gone and no longer named
    assert set(again.manifest["checkpoints"]) == {"step-0000020", "step-0000030", "step-0000040"}
    assert sorted(p.name for p in (run.path / "checkpoints").iterdir()) == [
        "step-0000020.safetensors",
        "step-0000030.safetensors",
        "step-0000040.safetensors",
    ]
    assert again.load_checkpoint()["w"][0] == 20  # default: best
    assert again.manifest["train_config"] == {"lr": 1e-3} and again.manifest["manifest_version"] == 1
    with pytest.raises(EmubenchError, match="already holds a run"):
        new_run(tmp_path)


def test_second_writer_is_refused(tmp_path):
    run = new_run(tmp_path)
    with run.lock():
        with pytest.raises(EmubenchError, match="another process is writing"):
            with RunFolder.lock_folder(run.path):
                pass


@pytest.mark.parametrize("key", sorted(set(MANIFEST_SCHEMA) - {"manifest_version"}))
def test_a_missing_manifest_key_is_named_with_the_file(tmp_path, key):
    run = new_run(tmp_path)
    manifest = json.loads((run.path / "manifest.json").read_text())
    del manifest[key]
    (run.path / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(EmubenchError) as err:
        RunFolder.open(run.path)
    msg = str(err.value)
    assert "manifest.json" in msg and "\n" not in msg and repr(key) in msg, msg


def test_manifests_from_before_the_schema_are_read_with_model_required(tmp_path):
    """Runs written before manifest_version (and by trainers written against the older docs) still open."""
    (tmp_path / "old").mkdir()
    (tmp_path / "old" / "manifest.json").write_text(json.dumps({"model": "grf", "checkpoints": {}}))
    assert RunFolder.open(tmp_path / "old").manifest["model"] == "grf"
    (tmp_path / "old" / "manifest.json").write_text(json.dumps({"checkpoints": {}}))
    with pytest.raises(EmubenchError, match="manifest key 'model' is missing"):
        RunFolder.open(tmp_path / "old")


def test_wrong_types_and_dangling_names_are_refused(tmp_path):
    run = new_run(tmp_path)
    m = dict(run.manifest)
    with pytest.raises(EmubenchError, match=r"manifest key 'seed' must be int, got str"):
        validate_manifest({**m, "seed": "3"}, "x/manifest.json")
    with pytest.raises(EmubenchError, match=r"'dataset.hash' must be str"):
        validate_manifest({**m, "dataset": {**m["dataset"], "hash": 1}}, "x/manifest.json")
    with pytest.raises(EmubenchError, match=r"'dataset' needs a 'name' or 'files'"):
        validate_manifest({**m, "dataset": {**m["dataset"], "name": None}}, "x/manifest.json")
    with pytest.raises(EmubenchError, match=r"'latest' names checkpoint 'gone'"):
        validate_manifest({**m, "latest": "gone"}, "x/manifest.json")
    with pytest.raises(EmubenchError, match=r"manifest_version 2 is not supported"):
        validate_manifest({**m, "manifest_version": 2}, "x/manifest.json")
    # writing an invalid manifest is refused too, and nothing is written
    before = (run.path / "manifest.json").read_text()
    with pytest.raises(EmubenchError, match="'seed'"):
        run.update(seed="three")
    assert (run.path / "manifest.json").read_text() == before


def test_other_data_are_refused_with_both_hashes(tmp_path):
    run = new_run(tmp_path)
    other = mapset(seed=1)
    with pytest.raises(EmubenchError) as err:
        run.check_data(other)
    msg = str(err.value)
    assert other.content_hash() in msg and mapset().content_hash() in msg and "--allow-other-data" in msg
    run.check_data(other, allow_other_data=True)
    run.check_data(mapset())


def test_the_content_hash_covers_every_map_and_old_manifests_keep_theirs(tmp_path):
    """One value changed in any map (the middle one of 301 included, which the first and last 32 maps of the
    version-1 hash never saw) changes the hash; a manifest without ``hash_version`` is checked with version 1."""
    maps = np.random.default_rng(0).standard_normal((301, 8, 8)).astype(np.float32)
    base = MapSet(maps, 1.0, "toy").content_hash()
    for i in (0, 150, 300):
        changed = maps.copy()
        changed[i, 3, 4] += 1e-6
        assert MapSet(changed, 1.0, "toy").content_hash() != base, i
    changed = maps.copy()
    changed[150, 3, 4] += 1e-6
    assert MapSet(changed, 1.0, "toy").content_hash(1) == MapSet(maps, 1.0, "toy").content_hash(1)  # why v2
    run = new_run(tmp_path)
    assert run.manifest["dataset"]["hash_version"] == 2
    ds = {k: v for k, v in run.manifest["dataset"].items() if k != "hash_version"}
    run.update(dataset={**ds, "hash": mapset().content_hash(1)})  # as written before version 2
    run.check_data(mapset())
    with pytest.raises(EmubenchError, match="hash_version' must be 1 or 2"):
        run.update(dataset={**ds, "hash_version": 3})


@pytest.mark.slow
def test_scoring_a_run_on_modified_data_is_refused(tmp_path):
    """A run trained on a file of maps, scored after one value of the middle map of the file changed: refused,
    naming both hashes; accepted with --allow-other-data. (The commands run in process, through click: the run
    is a folder either way.)"""
    from click.testing import CliRunner

    from emubench.cli import cli

    data = tmp_path / "maps.npy"
    maps = np.random.default_rng(0).gamma(2.0, 0.01, size=(300, 64, 64)).astype(np.float32)
    np.save(data, maps)
    run = tmp_path / "run"
    res = CliRunner().invoke(
        cli,
        [
            "-q",
            "train",
            "cosmogan-dcgan",
            "--preset",
            "smoke",
            "--data",
            str(data),
            "--side-deg",
            "0.866",
            "--max-steps",
            "2",
            "-c",
            "width=8",
            "-c",
            "val_maps=16",
            "--out",
            str(run),
        ],
        obj={},
    )
    assert res.exit_code == 0, res.output
    maps[150, 10, 10] += 0.01
    np.save(data, maps)
    score = [
        "-q",
        "score",
        "--model",
        str(run),
        "--metric",
        "power-spectrum",
        "-n",
        "32",
        "--floor-draws",
        "100",
        "--bootstrap-draws",
        "0",
        "--out",
        str(tmp_path / "rep"),
    ]
    res = CliRunner().invoke(cli, score, obj={})
    assert res.exit_code == 1 and len(res.stderr.strip().splitlines()) == 1, res.stderr
    want = json.loads((run / "manifest.json").read_text())["dataset"]["hash"]
    have = MapSet(maps, 0.866, "maps").content_hash()
    assert (
        want in res.stderr
        and have in res.stderr
        and "--allow-other-data" in res.stderr
        and not (tmp_path / "rep").exists()
    )
    res = CliRunner().invoke(cli, score + ["--allow-other-data"], obj={})
    assert res.exit_code == 0, res.stderr


CHEAP = [
    (["train", "no-such-model"], "unknown model 'no-such-model'"),
    (["train", "cosmogan-dcgan", "--preset", "fast"], "unknown preset 'fast'"),
    (["train", "cosmogan-dcgan", "-c", "learning_rate=1"], "unknown config key(s) learning_rate"),
    (["score", "--model", "no/such/dir"], "no/such/dir: no such run folder"),
    (["score", "--model", "grf", "--metric", "nope"], "unknown metric 'nope'"),
    (["score", "--model", "grf", "--dataset", "nope"], "unknown dataset 'nope'"),
    (["score", "--maps", "missing.npy"], "missing.npy: no such file"),
    (["score", "--model", "EMPTY"], "not a run folder"),
]


@pytest.mark.parametrize("args,message", CHEAP, ids=[" ".join(a) for a, _ in CHEAP])
def test_cheap_mistakes_are_found_before_any_heavy_work(tmp_path, args, message):
    """Found before torch, scipy or pandas are even imported (so in well under a second), let alone a dataset
    built: the error is one line, and the process never loaded them."""
    (tmp_path / "EMPTY").mkdir()
    probe = (
        "import sys\nfrom emubench.cli import main\nsys.argv = ['emubench', *sys.argv[1:]]\n"
        "try:\n    main()\nexcept SystemExit as e:\n"
        "    heavy = [m for m in ('torch', 'scipy', 'pandas', 'matplotlib') if m in sys.modules]\n"
        "    print('HEAVY', heavy, 'EXIT', e.code)\n"
    )
    res = subprocess.run([sys.executable, "-c", probe, *args], capture_output=True, text=True, cwd=tmp_path)
    assert message in res.stderr and len(res.stderr.strip().splitlines()) == 1, res.stderr
    assert "HEAVY [] EXIT 1" in res.stdout, res.stdout + res.stderr


@pytest.mark.slow
def test_pre_1_0_metrics_and_metrics_without_curves_still_score_and_report(tmp_path, monkeypatch):
    monkeypatch.setenv("EMUBENCH_PLUGINS_DIR", str(HERE / "legacy_plugins"))
    res = subprocess.run(
        [
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
            "n_maps=300",
            "--metric",
            "legacy-mean",
            "--metric",
            "no-curves",
            "--out",
            str(tmp_path / "rep"),
        ],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONWARNINGS": "always::DeprecationWarning"},
    )
    assert res.returncode == 0, res.stderr
    # accepted until 2.0, with a warning naming the metric (emubench.compat)
    assert "metric 'legacy-mean' returns a list of rows" in res.stderr and "no-curves" not in res.stderr
    import pandas as pd

    curves = pd.read_csv(tmp_path / "rep" / "curves.csv")
    assert list(curves.metric) == ["legacy-mean"]
    scores = pd.read_csv(tmp_path / "rep" / "scores.csv")
    assert set(scores.statistic) == {"mean-difference", "max"}
    assert (tmp_path / "rep" / "report.html").exists()


@pytest.mark.slow
def test_only_a_metric_without_curves_scores_and_reports(tmp_path, monkeypatch):
    monkeypatch.setenv("EMUBENCH_PLUGINS_DIR", str(HERE / "legacy_plugins"))
    res = subprocess.run(
        [
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
            "n_maps=300",
            "--metric",
            "no-curves",
            "--out",
            str(tmp_path / "rep"),
        ],
        capture_output=True,
        text=True,
    )
    assert res.returncode == 0, res.stderr
    assert (tmp_path / "rep" / "report.html").exists() and (tmp_path / "rep" / "summary.md").exists()


@pytest.mark.slow
def test_a_pre_1_0_trainer_and_trained_model_still_train_and_score(tmp_path, monkeypatch):
    """Written against the older docs (emubench.checkpoint, a manifest without manifest_version)."""
    monkeypatch.setenv("EMUBENCH_PLUGINS_DIR", str(HERE / "legacy_plugins"))
    cli = [sys.executable, "-m", "emubench.cli", "-q"]
    run = tmp_path / "run"
    res = subprocess.run(
        cli + ["train", "legacy-mean-map", "--dataset", "lognormal-lcdm-64", "-D", "n_maps=300", "--out", str(run)],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONWARNINGS": "always::DeprecationWarning"},
    )
    assert res.returncode == 0, res.stderr
    assert "takes keywords: take one emubench.TrainRequest" in res.stderr  # accepted until 2.0 (emubench.compat)
    res = subprocess.run(
        cli
        + [
            "score",
            "--model",
            str(run),
            "--dataset",
            "lognormal-lcdm-64",
            "-D",
            "n_maps=300",
            "--metric",
            "power-spectrum",
            "--out",
            str(tmp_path / "rep"),
        ],
        capture_output=True,
        text=True,
    )
    assert res.returncode == 0, res.stderr
    assert "| power-spectrum | mean | **flag**" in (tmp_path / "rep" / "summary.md").read_text()


def test_a_run_without_its_data_in_the_manifest_is_not_scored_on_a_guess(tmp_path):
    (tmp_path / "old").mkdir()
    (tmp_path / "old" / "manifest.json").write_text(json.dumps({"model": "cosmogan-dcgan", "checkpoints": {}}))
    res = subprocess.run(
        [sys.executable, "-m", "emubench.cli", "score", "--model", str(tmp_path / "old")],
        capture_output=True,
        text=True,
    )
    assert res.returncode == 1 and "no checkpoint yet" in res.stderr, res.stderr


def test_the_lock_leaves_no_file_behind_and_still_excludes(tmp_path):
    """A released lock removes its .lock file (no stale process id left in a finished run), and while held a
    second taker is refused; taking it again afterwards works."""
    from emubench.checkpoint import RunLock

    with RunLock(tmp_path):
        assert (tmp_path / ".lock").read_text() == str(os.getpid())
        with pytest.raises(EmubenchError, match="another process"):
            with RunLock(tmp_path):
                pass
    assert not (tmp_path / ".lock").exists()
    with RunLock(tmp_path):
        assert (tmp_path / ".lock").exists()
    assert list(tmp_path.iterdir()) == []


@pytest.mark.slow
def test_per_epoch_validation_records_near_copies_of_training_maps(small_splits):
    """``emubench.validate_generator`` (both reference trainers' per-epoch validation) records the fraction of
    generated maps that copy a training map: all of them for a generator that returns training maps (flagged),
    few for one that returns new real maps (the test split's), which also sits near the KS and P(ℓ) floors."""
    from emubench import validate_generator

    train, test = small_splits["train"], small_splits["test"]
    copies = validate_generator(lambda n, theta: train.get(slice(0, n)), small_splits, n=96, seed=1)
    fresh = validate_generator(lambda n, theta: test.get(slice(0, n)), small_splits, n=96, seed=1)
    assert copies["copies"] == 1.0 and copies["copies_flagged"]
    assert fresh["copies"] < 0.1 and not fresh["copies_flagged"] and fresh["score"] < 3, fresh
