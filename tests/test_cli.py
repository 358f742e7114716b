"""The emubench command line: help texts, one-line errors, every command end to end on small data."""

import json
import subprocess
import sys

import numpy as np
import pytest
from click.testing import CliRunner

from emubench.cli import cli


def run(*args):
    return subprocess.run([sys.executable, "-m", "emubench.cli", *args], capture_output=True, text=True)


def test_every_option_has_help():
    def walk(cmd):
        yield cmd
        for sub in getattr(cmd, "commands", {}).values():
            yield from walk(sub)

    for cmd in walk(cli):
        for p in cmd.params:
            if p.param_type_name == "option" and p.name not in ("help", "version"):
                assert p.help, f"{cmd.name} --{p.name} has no help text"


@pytest.mark.parametrize(
    "args, message",
    [
        (["score", "--model", "grff", "--dataset", "lognormal-lcdm-64"], "unknown model 'grff'; did you mean 'grf'"),
        (["train", "lognormal"], "model 'lognormal' has no registered trainer"),
        (["train", "cosmogan-dcgan", "--preset", "fast"], "unknown preset 'fast'"),
        (["train", "cosmogan-dcgan", "--device", "tpu"], "unknown device 'tpu'"),
        (["score", "--maps", "missing.npy", "--dataset", "lognormal-lcdm-64"], "missing.npy: no such file"),
        (["stats", "missing.npy", "--side-deg", "1"], "missing.npy: no such file"),
        (["score", "--dataset", "lognormal-lcdm-64"], "give exactly one of --model or --maps"),
        (["score", "--model", "grf", "--dataset", "nope"], "unknown dataset 'nope'"),
        (["data", "export", "lognormal-lcdm-64", "-D", "bogus=1", "--out", "x.npy"], "unknown option(s) bogus"),
    ],
)
def test_errors_are_one_line_without_traceback(args, message, tmp_path, monkeypatch):
    """In process (click's runner): the error handling is the CLI group's; test_score_maps_with_wrong_shape_writes_
    nothing checks the same through a fresh interpreter."""
    monkeypatch.chdir(tmp_path)
    res = CliRunner().invoke(cli, args, obj={})
    assert res.exit_code != 0
    assert message in res.stderr, res.stderr
    assert "Traceback" not in res.stderr and len(res.stderr.strip().splitlines()) == 1
    assert not list(tmp_path.iterdir()), "nothing may be written on error"


def test_bad_option_values_are_refused_before_work(tmp_path):
    res = CliRunner().invoke(cli, ["train", "cosmogan-dcgan", "--batch-size", "0"], obj={})
    assert res.exit_code == 2 and "must be positive" in res.stderr
    res = CliRunner().invoke(cli, ["sample", "--model", "grf", "-n", "-5", "--out", str(tmp_path / "x.npy")], obj={})
    assert res.exit_code == 2 and "must be positive" in res.stderr and not (tmp_path / "x.npy").exists()


def test_verbose_shows_traceback():
    res = CliRunner().invoke(cli, ["--verbose", "score", "--model", "grff", "--dataset", "lognormal-lcdm-64"], obj={})
    assert res.exit_code == 1 and "Traceback" in res.stderr


@pytest.mark.slow
def test_data_export_sample_stats_score_maps_and_report(tmp_path):
    r = CliRunner()
    ds = ["--dataset", "lognormal-lcdm-64", "-D", "n_maps=400"]
    res = r.invoke(
        cli,
        [
            "data",
            "export",
            "lognormal-lcdm-64",
            "-D",
            "n_maps=400",
            "--split",
            "test",
            "-n",
            "50",
            "--out",
            str(tmp_path / "test.npy"),
        ],
        obj={},
    )
    assert res.exit_code == 0, res.output
    assert np.load(tmp_path / "test.npy").shape == (50, 64, 64)
    res = r.invoke(cli, ["sample", "--model", "lognormal", *ds, "-n", "60", "--out", str(tmp_path / "ln.npy")], obj={})
    assert res.exit_code == 0, res.output
    res = r.invoke(
        cli,
        ["stats", str(tmp_path / "ln.npy"), "--side-deg", "0.866", "--nbins", "8", "--out", str(tmp_path / "s.csv")],
        obj={},
    )
    assert res.exit_code == 0, res.output
    import pandas as pd

    stats = pd.read_csv(tmp_path / "s.csv")
    assert set(stats.statistic) >= {
        "mean",
        "variance",
        "skewness",
        "kurtosis",
        "C_ell",
        "V0",
        "V1",
        "V2",
        "peaks",
        "pdf",
    }
    assert stats["map"].nunique() == 60
    # two metrics suffice here: tests/test_report.py scores with every built-in metric
    few = ["--metric", "pixel-ks", "--metric", "power-spectrum", "--floor-draws", "200"]
    for name, spec in (("ln", ["--maps", str(tmp_path / "ln.npy")]), ("grf", ["--model", "grf"])):
        res = r.invoke(cli, ["-q", "score", *spec, *ds, *few, "--out", str(tmp_path / name)], obj={})
        assert res.exit_code == 0, res.output
        for f in ("scores.csv", "curves.csv", "summary.md", "report.html", "score.json"):
            assert (tmp_path / name / f).exists()
    scores = pd.read_csv(tmp_path / "grf" / "scores.csv")
    assert {"metric", "statistic", "bin", "value", "floor", "flagged", "model", "dataset", "n", "seed"} <= set(
        scores.columns
    )
    info = json.loads((tmp_path / "grf" / "score.json").read_text())
    assert info["throughput_maps_per_s"] > 0 and info["dataset_hash"] and info["split_seed"] == 0
    # its cost: the fitted spectrum's amplitudes and mean, the seconds of the fit, the sampling time per map
    cost = info["cost"]
    assert cost["parameters"] == info["npix"] ** 2 + 1 and cost["fit_seconds"] > 0 and cost["training"] is None
    assert cost["sample_ms_per_map"] == pytest.approx(1000 / info["throughput_maps_per_s"])
    assert json.loads((tmp_path / "ln" / "score.json").read_text())["cost"] is None  # maps made elsewhere
    res = r.invoke(cli, ["report", str(tmp_path / "ln"), str(tmp_path / "grf"), "--out", str(tmp_path / "lb")], obj={})
    assert res.exit_code == 0, res.output
    md = (tmp_path / "lb" / "leaderboard.md").read_text()
    assert "| grf |" in md and "| ln |" in md and "floor" in md
    ranking = next(line for line in md.splitlines() if "[grf](../grf/report.html)" in line)  # linked to its report
    assert "| 4.1k | fit " in ranking and " ms/map on cpu |" in ranking, ranking  # 64² + 1 parameters
    assert '<table class="leaderboard' in (tmp_path / "lb" / "leaderboard.html").read_text()


@pytest.mark.slow
def test_score_maps_with_wrong_shape_writes_nothing(tmp_path):
    np.save(tmp_path / "bad.npy", np.zeros((5, 32, 32), np.float32))
    out = tmp_path / "rep"
    res = run(
        "score",
        "--maps",
        str(tmp_path / "bad.npy"),
        "--dataset",
        "lognormal-lcdm-64",
        "-D",
        "n_maps=100",
        "--out",
        str(out),
    )
    assert res.returncode == 1 and "maps are 32x32 but the dataset's are 64x64" in res.stderr
    assert not out.exists()


def test_plugins_lists_all_kinds_and_marks_the_opt_in_metrics():
    res = CliRunner().invoke(cli, ["plugins"])
    assert res.exit_code == 0, res.output
    for name in ("lognormal-lcdm", "cosmogan-dcgan", "cosmogan-dcgan-trainer", "pixel-ks", "memorisation", "grf"):
        assert name in res.output
    lines = {line.split()[0]: line for line in res.output.splitlines() if line.startswith("  ")}
    assert lines["scattering"].endswith("(opt-in: --metric scattering)")
    assert lines["bispectrum"].endswith("(opt-in: --metric bispectrum)")
    assert lines["minima"].endswith("(opt-in: --metric minima)")
    assert "opt-in" not in lines["power-spectrum"]


def test_calibrate_scores_the_metrics_named_and_splits_alpha_over_their_verdicts(tmp_path):
    """`calibrate --metric` (an opt-in metric among them): each score has those metrics alone, and the stated rate
    of each verdict is alpha over their verdicts (2 + 2 here), not over the default score's."""
    import pandas as pd

    out = tmp_path / "fpr"
    args = ["--quiet", "calibrate", "lognormal-lcdm-64", "-D", "n_maps=256", "-n", "24", "--emulators", "2"]
    args += ["--floor-draws", "80", "--metric", "power-spectrum", "--metric", "bispectrum", "--out", str(out)]
    res = CliRunner().invoke(cli, args)
    assert res.exit_code == 0, res.output
    table = pd.read_csv(out / "false_positive_rates.csv")
    per = table.iloc[:-1]
    assert set(per.verdict) == {f"{m}/{a}" for m in ("power-spectrum", "bispectrum") for a in ("mean", "covariance")}
    assert per.stated.tolist() == pytest.approx([0.05 / 4] * 4) and table.iloc[-1].stated == pytest.approx(0.05)
