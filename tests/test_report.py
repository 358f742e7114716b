"""Reports: report.html as a real page, metrics shown by their own declarations (a third-party one included),
plots whose axes cannot hide a failure, one leaderboard table per dataset, and both pages checked in a real
browser (headless Chromium over the DevTools protocol)."""

import json
import os
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from emubench import EmubenchError, Plot
from emubench.cli import cli
from emubench.report import leaderboard
from emubench.report.display import declarations, resolve
from emubench.report.plots import curve_figure

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def scored(tmp_path_factory):
    """Four score folders on two datasets: on toy-grf (the example plugins) a GRF scored with the example's
    third-party metric and the power spectrum (A), and a lognormal scored with the third-party metric only,
    labelled like A (B); on lognormal-lcdm-64 a GRF with every built-in metric (C)."""
    from emubench import plugins

    tmp = tmp_path_factory.mktemp("scored")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("EMUBENCH_PLUGINS_DIR", str(ROOT / "examples" / "plugins"))
        plugins.reset()
        toy = ["--dataset", "toy-grf", "--floor-draws", "300"]
        commands = {
            "A": ["--model", "grf", *toy, "--metric", "pixel-moments", "--metric", "power-spectrum"],
            "B": ["--model", "lognormal", *toy, "--metric", "pixel-moments", "--label", "grf"],
            "C": ["--model", "grf", "--dataset", "lognormal-lcdm-64", "-D", "n_maps=400", "--floor-draws", "300"],
        }
        for name, args in commands.items():
            res = CliRunner().invoke(cli, ["-q", "score", *args, "--out", str(tmp / name)], obj={})
            assert res.exit_code == 0, res.output
    plugins.reset()
    return tmp


@pytest.fixture(scope="module")
def board(scored):
    """The leaderboard of A, B and C: two datasets."""
    out = scored / "board"
    leaderboard([scored / "A", scored / "B", scored / "C"], out)
    return out


def test_report_is_a_self_contained_page_with_a_card_per_verdict(scored):
    page = (scored / "C" / "report.html").read_text()
    scores = pd.read_csv(scored / "C" / "scores.csv")
    verdicts = scores[scores.summary].groupby(["metric", "aspect"]).size()
    assert "<pre>" not in page and "**" not in page, "no Markdown left in the page"
    cards = re.findall(r'<section class="card (pass|flag)" data-metric="([\w-]+)" data-aspect="([\w-]+)"', page)
    assert sorted((m, a) for _, m, a in cards) == sorted(verdicts.index)
    assert ("flag", "pixel-ks", "distribution") in cards  # a GRF has the wrong one-point distribution
    # every image is embedded; nothing is fetched from elsewhere
    sources = re.findall(r'(?:src|href)="([^"]+)"', page)
    assert sources and all(s.startswith("data:image/png;base64,") for s in sources)
    # each metric's section has its declared figures, the closest pairs sit under the memorisation check
    for title in ("pixel pdf", "power spectrum", "Minkowski functionals", "peak counts"):
        assert f'alt="{title}"' in page
    memorisation = page.split('id="metric-memorisation"')[1].split("<h2")[0]
    assert "closest generated / training pairs" in memorisation and "near-copies" in page
    assert '<details id="manifest">' in page and "dataset_hash" in page


def test_a_third_party_metric_is_plotted_and_gets_leaderboard_columns(scored, board):
    page = (scored / "A" / "report.html").read_text()
    assert 'alt="pixel moments"' in page and 'data-metric="pixel-moments"' in page
    info = json.loads((scored / "A" / "score.json").read_text())
    assert info["display"]["pixel-moments"]["headline"] == ["chi2-dof", "max-abs-log-std-ratio"]
    text = (board / "leaderboard.md").read_text()
    assert "pixel-moments:chi2-dof" in text and "pixel-moments:max-abs-log-std-ratio" in text
    assert list((board / "plots").glob("*-pixel-moments.png"))


def test_leaderboard_one_table_per_dataset_ranked_on_shared_metrics(scored, board, tmp_path):
    sections = (board / "leaderboard.md").read_text().split("\n## Dataset ")[1:]
    assert [s.split("`")[1] for s in sections] == ["toy-grf", "lognormal-lcdm-64"]
    toy = sections[0]
    # equal labels told apart; the metric B was not scored with is shown as such and not ranked on
    assert "| grf (A) |" in toy and "| grf (B) |" in toy
    assert "Ranked on: pixel-moments." in toy and "not scored" in toy
    assert "power-spectrum" not in toy.split("Ranked on:")[1].split("\n")[0]
    assert "32² κ maps over 1.0°" in toy and "64² κ maps over 0.866°" in sections[1]
    long = pd.read_csv(board / "leaderboard.csv")
    assert set(long["dataset"]) == {"toy-grf", "lognormal-lcdm-64"}
    assert not long[(long.model == "grf (B)") & (long.metric == "power-spectrum")]["scored"].any()
    # written twice into the same folder: replaced, nothing left over
    out = tmp_path / "again"
    for folders in ([scored / "A", scored / "B"], [scored / "A"]):
        res = CliRunner().invoke(cli, ["report", *map(str, folders), "--out", str(out)], obj={})
        assert res.exit_code == 0, res.output
        assert not (out / "plots" / "stale.png").exists()
        (out / "plots" / "stale.png").write_bytes(b"x")
    assert "grf (B)" not in (out / "leaderboard.md").read_text() and "| grf |" in (out / "leaderboard.md").read_text()


def test_leaderboard_ranks_scores_across_cosmologies_in_a_table_of_their_own(tmp_path):
    """The shipped scores across cosmologies (reports/cosmologies/) get a table whose cells are the verdicts
    across the training and the held-out cosmologies, ranked by flags; a score at one cosmology keeps its own."""
    shipped = Path(__file__).parent.parent / "reports"
    folders = [shipped / "cosmologies" / m for m in ("sigma8-biased", "lognormal-crops", "nearest-cosmology")]
    table = leaderboard([*folders, shipped / "smoke"], tmp_path / "lb")
    across = table[table.dataset == "lognormal-cosmo-64"]
    assert across["model"].iloc[0] == "lognormal-crops" and across["flags"].is_monotonic_increasing
    text = (tmp_path / "lb" / "leaderboard.md").read_text()
    section = text.split("## Dataset `lognormal-cosmo-64`")[1].split("\n## Dataset")[0]
    assert "scored across cosmologies" in section and "cosmologies per verdict" in section
    row = next(line for line in section.splitlines() if line.startswith("| sigma8-biased |"))
    assert "training: 7 of 14; held-out: 6 of 14" in row and row.count("flag (") == 13
    long = pd.read_csv(tmp_path / "lb" / "leaderboard.csv")
    bias = long[(long.model == "sigma8-biased") & (long.metric == "parameter-bias")].set_index("cosmologies")
    assert bias.loc["held-out", "flagged"] and bias.loc["held-out", "value"] < 0.05
    assert set(long[long.dataset == "lognormal-lcdm-64"]["cosmologies"].fillna("")) == {""}


def test_leaderboard_refuses_an_out_folder_it_would_destroy(scored, tmp_path):
    other = tmp_path / "mine"
    other.mkdir()
    (other / "notes.txt").write_text("keep me")
    with pytest.raises(EmubenchError, match="holds other files"):
        leaderboard([scored / "A"], other)
    with pytest.raises(EmubenchError, match="one of the score folders read"):
        leaderboard([scored / "A"], scored)
    with pytest.raises(EmubenchError, match="not a score report"):
        leaderboard([other], tmp_path / "lb")
    assert (other / "notes.txt").read_text() == "keep me" and not (tmp_path / "lb").exists()


def _curves(scale: float) -> pd.DataFrame:
    ell = np.geomspace(100, 10_000, 12)
    ref = 1e-9 * (ell / 100) ** -1.0
    rows = []
    for label, factor in (("reference", 1.0), ("heldout", 1.01), ("generated", scale)):
        rows += [
            {"statistic": "C_ell", "x": x, "set": label, "mean": factor * y, "std": 0.3 * y, "model": "vae"}
            for x, y in zip(ell, ref)
        ]
    return pd.DataFrame(rows)


def test_the_ratio_panel_follows_the_data():
    """A spectrum 100× too low must be drawn where it is, not clipped off a fixed 0.5–1.5 axis."""
    plot = Plot("power spectrum", ("C_ell",), "ℓ", "C", xscale="log", yscale="log", y="ell2", ratio=True)
    fig = curve_figure(plot, _curves(0.01), n=100)
    ratio_ax = fig.axes[1]
    lo, hi = ratio_ax.get_ylim()
    assert ratio_ax.get_yscale() == "log" and lo < 0.01 and hi > 1.0
    fig = curve_figure(plot, _curves(1.02), n=100)
    lo, hi = fig.axes[1].get_ylim()
    assert fig.axes[1].get_yscale() == "linear" and lo < 0.95 and 1.05 < hi < 1.3  # band (±2√2·0.3/10) shown
    assert fig.axes[0].collections, "the real-vs-real band is drawn"


def test_declarations_defaults_and_one_line_errors():
    class Bare:
        name = "bare"

    class Wrong:
        name = "wrong"
        plots = ("power spectrum",)

    with pytest.raises(EmubenchError, match="metric wrong: plots must be a tuple of emubench.Plot"):
        declarations([Wrong])
    scores = pd.DataFrame(
        {
            "metric": "bare",
            "aspect": ["mean", "mean", "covariance"],
            "statistic": ["a-chi2", "a-rms", "a-std"],
            "summary": True,
        }
    )
    curves = pd.DataFrame({"metric": "bare", "statistic": ["a", "b"], "x": 1.0, "set": "reference", "mean": 1.0})
    info = {"display": declarations([Bare])}
    d = resolve(info, scores, curves)["bare"]
    assert d.headline == ("a-chi2", "a-std")  # the first summary row of each aspect
    assert len(d.plots) == 1 and d.plots[0].statistics == ("a", "b")
    with pytest.raises(ValueError, match="scales must be"):
        Plot("x", ("a",), xscale="loglog")


def test_pages_in_a_real_browser(scored, board):
    """report.html and a two-dataset leaderboard in headless Chromium: no console error, no horizontal scroll
    at 1,400 px, verdict cards and tables visible, images decoded, and a click on a header sorts the table."""
    from browser import Browser, find_chromium

    exe = find_chromium()
    if exe is None:
        if os.environ.get("EMUBENCH_REQUIRE_BROWSER"):
            pytest.fail("EMUBENCH_REQUIRE_BROWSER is set but no chromium is installed")
        pytest.skip("no chromium on PATH (Debian: apt-get install chromium); .ci/run installs it")
    browser = Browser(exe, width=1400)
    try:
        browser.open(scored / "C" / "report.html")
        visible = "(e) => { const r = e.getBoundingClientRect(); return r.width > 0 && r.height > 0; }"
        cards = browser.js(f"[...document.querySelectorAll('section.card')].filter({visible}).length")
        assert cards == len(pd.read_csv(scored / "C" / "scores.csv").query("summary").groupby(["metric", "aspect"]))
        metrics = pd.read_csv(scored / "C" / "scores.csv")["metric"].nunique()
        assert browser.js(f"[...document.querySelectorAll('table.summary')].filter({visible}).length") == metrics
        assert browser.js("document.documentElement.scrollWidth") <= 1400, "the report scrolls sideways"
        overflowing = (
            "[...document.querySelectorAll('table')].filter((t) => t.scrollWidth > t.parentElement.clientWidth)"
        )
        assert browser.js(f"{overflowing}.length") == 0, "a table is wider than its column"
        assert browser.js("[...document.images].every((i) => i.complete && i.naturalWidth > 0)")
        assert browser.js("document.querySelector('details#manifest').open") is False
        browser.click("details#manifest summary")
        assert browser.js("document.querySelector('details#manifest').open") is True

        browser.open(board / "leaderboard.html")
        assert browser.js("document.querySelectorAll('section.dataset table.leaderboard').length") == 2
        names = browser.js("[...document.querySelectorAll('section.dataset h2 code')].map((e) => e.textContent)")
        assert names == ["toy-grf", "lognormal-lcdm-64"]
        column = (
            "[...document.querySelectorAll('table.leaderboard')[0].tBodies[0].rows]"
            ".map((r) => r.cells[{}].dataset.sort)"
        )
        header = "table.leaderboard th.sortable:nth-child({})"
        browser.click(header.format(1))  # model: ascending
        assert browser.js(column.format(0)) == sorted(browser.js(column.format(0)))
        browser.click(header.format(1))  # again: descending
        assert browser.js(column.format(0)) == sorted(browser.js(column.format(0)), reverse=True)
        browser.click(header.format(6))  # the first metric column (pixel-moments chi2-dof), numeric
        values = [float(v) for v in browser.js(column.format(5))]
        assert values == sorted(values)
        assert browser.js("[...document.images].every((i) => i.complete && i.naturalWidth > 0)")
        assert not browser.errors, browser.errors
    finally:
        browser.close()
