"""Reports: report.html as a real page, metrics shown by their own declarations (a third-party one included),
plots whose axes cannot hide a failure, one leaderboard table per dataset, and both pages checked in a real
browser (headless Chromium over the DevTools protocol)."""

import base64
import dataclasses
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
        mp.setenv("EMUBENCH_VECTOR_FIGURES", "1")  # these reports are where the PDF copies are checked
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
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("EMUBENCH_VECTOR_FIGURES", "1")
        leaderboard([scored / "A", scored / "B", scored / "C"], out)
    return out


@pytest.mark.slow
def test_report_is_a_self_contained_page_with_a_card_per_verdict(scored):
    page = (scored / "C" / "report.html").read_text()
    scores = pd.read_csv(scored / "C" / "scores.csv")
    verdicts = scores[scores.summary].groupby(["metric", "aspect"]).size()
    assert "<pre>" not in page and "**" not in page, "no Markdown left in the page"
    cards = re.findall(r'<section class="card (pass|flag)" data-metric="([\w-]+)" data-aspect="([\w-]+)"', page)
    assert sorted((m, a) for _, m, a in cards) == sorted(verdicts.index)
    assert ("flag", "pixel-ks", "distribution") in cards  # a GRF has the wrong one-point distribution
    # every image is embedded at 150 dpi; each figure links its vector copy, written beside the page
    sources = re.findall(r'src="([^"]+)"', page)
    assert sources and all(s.startswith("data:image/png;base64,") for s in sources)
    for b64 in sources:
        png = base64.b64decode(b64.split(",", 1)[1])
        (ppm,) = re.findall(rb"pHYs(.{4})", png)  # pixels per metre, as matplotlib writes it
        assert int.from_bytes(ppm, "big") / 39.37 == pytest.approx(150, abs=1)
    links = re.findall(r'href="([^"]+)"', page)
    assert len(links) == len(sources) and all(link.startswith("figures/") and link.endswith(".pdf") for link in links)
    assert all((scored / "C" / link).read_bytes().startswith(b"%PDF") for link in links)
    # each metric's section has its declared figures, the closest pairs sit under the memorisation check
    for title in ("pixel pdf", "power spectrum", "Minkowski functionals", "peak counts"):
        assert f'alt="{title}"' in page
    memorisation = page.split('id="metric-memorisation"')[1].split("<h2")[0]
    assert "closest generated / training pairs" in memorisation and "near-copies" in page
    assert 'alt="margins of every map: what the memorisation verdict counts"' in memorisation
    # every metric with a covariance verdict shows its scatter and correlations, under that metric
    for metric in ("power-spectrum", "minkowski", "peaks"):
        section = page.split(f'id="metric-{metric}"')[1].split("<h2")[0]
        assert 'alt="scatter and bin-to-bin correlations, generated vs real (the covariance verdict)"' in section
    assert '<details id="manifest">' in page and "dataset_hash" in page


@pytest.mark.slow
def test_a_third_party_metric_is_plotted_and_gets_leaderboard_columns(scored, board):
    page = (scored / "A" / "report.html").read_text()
    assert 'alt="pixel moments"' in page and 'data-metric="pixel-moments"' in page
    info = json.loads((scored / "A" / "score.json").read_text())
    assert info["display"]["pixel-moments"]["headline"] == ["chi2-dof", "max-abs-log-std-ratio"]
    text = (board / "leaderboard.md").read_text()
    assert "pixel-moments:chi2-dof" in text and "pixel-moments:max-abs-log-std-ratio" in text
    assert list((board / "plots").glob("*-pixel-moments.png"))


@pytest.mark.slow
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


@pytest.mark.slow
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
    ranking = next(line for line in section.splitlines() if "[sigma8-biased](" in line)
    assert "training: 7 of 14; held-out: 6 of 14" in ranking
    cells = [line for line in section.splitlines() if line.startswith("| sigma8-biased |")]
    assert len(cells) == 4 and sum(line.count("flag (") for line in cells) == 13  # 4 tables of ≤ 7 columns
    # held-out cosmologies first, the parameter bias first within them
    first = section.split("### held-out cosmologies")[1].splitlines()[2]
    assert first.startswith("| model | parameter-bias/bias |"), first
    long = pd.read_csv(tmp_path / "lb" / "leaderboard.csv")
    bias = long[(long.model == "sigma8-biased") & (long.metric == "parameter-bias")].set_index("cosmologies")
    assert bias.loc["held-out", "flagged"] and bias.loc["held-out", "value"] < 0.05
    assert set(long[long.dataset == "lognormal-lcdm-64"]["cosmologies"].fillna("")) == {""}


@pytest.mark.slow
def test_leaderboard_disqualifies_copies_and_breaks_ties_by_severity(tmp_path, monkeypatch):
    """A memoriser (a useless copy of the training maps) is listed apart and not ranked, however few its flags;
    equal flag counts are ordered by how far beyond their floors the flags are; names link to the reports and
    the plots to their PDF copies."""
    from emubench.report.board import _severity

    monkeypatch.setenv("EMUBENCH_VECTOR_FIGURES", "1")
    shipped = Path(__file__).parent.parent / "reports"
    names = ["memoriser", "collapsed", "smoke", "lognormal"]
    table = leaderboard([shipped / n for n in names], tmp_path / "lb")
    assert list(table["model"]) == ["lognormal", "collapsed", "cosmogan-dcgan:smoke", "memoriser"]
    assert list(table["rank"].astype("float").fillna(0)) == [1, 2, 3, 0] and table["disqualified"].iloc[-1]
    collapsed, smoke = table.set_index("model").loc[["collapsed", "cosmogan-dcgan:smoke"]].itertuples()
    assert collapsed.flags == smoke.flags and collapsed.severity < smoke.severity  # a tie, broken by severity
    text = (tmp_path / "lb" / "leaderboard.md").read_text()
    assert "### Disqualified" in text and text.index("### Disqualified") < text.index("| memoriser (disqualified) |")
    assert "[memoriser](../../" not in text.split("### Disqualified")[0]
    links = re.findall(r'href="([^"#]+)"', (tmp_path / "lb" / "leaderboard.html").read_text())
    assert sum(link.endswith(".pdf") for link in links) == len(list((tmp_path / "lb" / "plots").glob("*.png")))
    for link in links:
        assert (tmp_path / "lb" / link).resolve().is_file(), link
    # severity: Σ over flagged verdicts of log10 of its worst flagged multiple of the floor (54× outweighs 3.6×)
    rows = [("m", "mean", "a", 10.0, 0.0, 2.0, True), ("m", "mean", "b", 3.0, 0.0, 2.0, True)]
    rows += [("m", "covariance", "c", 108.0, 0.0, 2.0, True), ("m", "covariance", "d", 1.0, 0.0, 2.0, False)]
    scores = pd.DataFrame(rows, columns=["metric", "aspect", "statistic", "value", "ideal", "floor", "flagged"])
    scores["summary"] = True
    assert _severity(scores, ["m"]) == pytest.approx(np.log10(5) + np.log10(54))
    assert _severity(scores, ["other"]) == 0


@pytest.mark.slow
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


def test_a_curve_without_a_ratio_panel_gets_its_residuals_in_sigma():
    """Under a curve that looks right by eye, (generated − real) / σ per bin: 3σ off reads as 3; 10⁴σ off as
    10⁴ on a symmetric-log axis (the Minkowski functionals of the smoke DCGAN looked identical at χ²/dof 1.3e4)."""
    plot = Plot("peak counts", ("peaks",), "ν", "count", ratio=False)
    x = np.linspace(-1, 4, 11)
    n, std = 100, np.full(11, 2.0)
    rows = []
    for label, shift in (("reference", 0.0), ("heldout", 0.0), ("generated", 3 * 2.0 * np.sqrt(2 / n))):
        rows += [
            {"statistic": "peaks", "x": a, "set": label, "mean": 10 + shift, "std": s, "model": "m"}
            for a, s in zip(x, std)
        ]
    fig = curve_figure(plot, pd.DataFrame(rows), n=n)
    main, residual = fig.axes
    line = next(line for line in residual.get_lines() if line.get_label() == "m")
    np.testing.assert_allclose(line.get_ydata(), 3.0)
    assert residual.get_yscale() == "linear" and residual.get_ylabel() == "Δ / σ"
    far = pd.DataFrame(rows).assign(mean=lambda d: np.where(d["set"] == "generated", 10 + 1e4 * 0.28, d["mean"]))
    assert curve_figure(plot, far, n=n).axes[1].get_yscale() == "symlog"
    assert len(curve_figure(plot, pd.DataFrame(rows), n=None).axes) == 1  # no n, no σ of the difference


def test_overlays_keep_every_model_readable():
    """On the leaderboard's overlay, a model 5× off gets a ratio panel of its own (the others are not squashed
    onto the line at 1), and models with identical curves are drawn once under a joint label."""
    plot = Plot("power spectrum", ("C_ell",), "ℓ", "C", xscale="log", yscale="log", y="ell2", ratio=True)
    models = {"a": 1.02, "copy-of-a": 1.02, "b": 0.98, "far": 0.2}
    curves = pd.concat([_curves(scale).assign(model=m) for m, scale in models.items()])
    fig = curve_figure(plot, curves, n=100)
    main, close, far = fig.axes
    assert [t.get_text() for t in main.get_legend().get_texts()][-3:] == ["a = copy-of-a", "b", "far"]
    lo, hi = close.get_ylim()
    assert close.get_yscale() == "linear" and 0.9 < lo and hi < 1.15
    assert [line.get_label() for line in far.get_lines() if line.get_label() == "far"] == ["far"]
    assert far.get_ylim()[0] < 0.2
    # without an outlier (or with one model, however far off) no third panel
    assert len(curve_figure(plot, curves[curves.model != "far"], n=100).axes) == 2
    assert len(curve_figure(plot, curves[curves.model == "far"], n=100).axes) == 2


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


@pytest.mark.slow
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
        assert browser.js("document.querySelectorAll('section.dataset table.ranking').length") == 2
        names = browser.js("[...document.querySelectorAll('section.dataset h2 code')].map((e) => e.textContent)")
        assert names == ["toy-grf", "lognormal-lcdm-64"]
        assert browser.js("document.documentElement.scrollWidth") <= 1400, "the leaderboard scrolls sideways"
        assert browser.js(f"{overflowing}.length") == 0, "a leaderboard table is wider than the page"
        column = (
            "[...document.querySelectorAll('table.leaderboard')[0].tBodies[0].rows]"
            ".map((r) => r.cells[{}].dataset.sort)"
        )
        header = "table.leaderboard th.sortable:nth-child({})"
        browser.click(header.format(1))  # model: ascending
        assert browser.js(column.format(0)) == sorted(browser.js(column.format(0)))
        browser.click(header.format(1))  # again: descending
        assert browser.js(column.format(0)) == sorted(browser.js(column.format(0)), reverse=True)
        browser.click(header.format(2))  # the first metric column (pixel-moments chi2-dof): by ×floor, best first
        values = [float(v) for v in browser.js(column.format(1))]
        assert values == sorted(values)
        assert browser.js("[...document.images].every((i) => i.complete && i.naturalWidth > 0)")
        assert not browser.errors, browser.errors
        # on a phone (420 px) a statistics table scrolls sideways inside its box, and the model column stays
        browser.close()
        browser = Browser(exe, width=420)
        browser.open(board / "leaderboard.html")
        box = "document.querySelectorAll('section.dataset')[1].querySelector('table.leaderboard').parentElement"
        assert browser.js(f"{box}.scrollWidth > {box}.clientWidth"), "the table fits 420 px: nothing to check"
        cell = f"{box}.querySelector('tbody td.model')"
        left = browser.js(f"{cell}.getBoundingClientRect().left")
        browser.js(f"{box}.scrollLeft = 300")
        assert browser.js(f"{box}.scrollLeft") > 0
        assert abs(browser.js(f"{cell}.getBoundingClientRect().left") - left) < 1, "the model column scrolled away"
        assert not browser.errors, browser.errors
    finally:
        browser.close()


@pytest.mark.slow
def test_the_size_of_a_parameter_bias_is_on_the_first_screen():
    """sigma8-biased (σ8 × 1.02 at every cosmology): its report says in numbers, in its first screen, that σ8 is
    inferred about 2% high at nearly every cosmology, and shows it as a signed plane; Ωm gets no such claim."""
    from emubench.report.cosmologies import bias_sentences, bias_summary, inferred_parameters

    folder = ROOT / "reports" / "cosmologies" / "sigma8-biased"
    table = inferred_parameters(pd.read_csv(folder / "scores.csv"), ["omega_m", "sigma8"])
    summary = bias_summary(table)
    s = summary.set_index(["cosmology", "parameter"])
    assert 1.0 < s.loc[("train", "sigma8"), "pct_mean"] < 3.0 and s.loc[("train", "sigma8"), "same_sign"] >= 22
    assert abs(s.loc[("train", "omega_m"), "pct_mean"]) < 0.5 and pd.isna(s.loc[("train", "S8"), "flagged"])
    sentences = bias_sentences(summary)
    assert any(
        re.match(r"σ8 is inferred [12]\.\d% high .*: high at 2\d of 25 training cosmologies", x) for x in sentences
    )
    assert any(x.startswith("Ωm: no coherent shift at the training cosmologies") for x in sentences), sentences
    page = (folder / "report.html").read_text()
    first = page.split('<h2 id="verdicts">')[0]
    assert re.search(r"σ8 is inferred [12]\.\d% high", first) and 'alt="biases over the parameter plane"' in first

    from browser import Browser, find_chromium

    exe = find_chromium()
    if exe is None:
        if os.environ.get("EMUBENCH_REQUIRE_BROWSER"):
            pytest.fail("EMUBENCH_REQUIRE_BROWSER is set but no chromium is installed")
        pytest.skip("no chromium on PATH (Debian: apt-get install chromium); .ci/run installs it")
    browser = Browser(exe, width=1400, height=900)
    try:
        browser.open(folder / "report.html")
        bottom = "(s) => document.querySelector(s).getBoundingClientRect().bottom"
        assert browser.js(f"({bottom})('ul.bias')") < 900, "the bias in numbers is below the first screen"
        top = "document.querySelector('img[alt=\"biases over the parameter plane\"]').getBoundingClientRect().top"
        assert browser.js(top) < 900 - 150, "the signed plane is below the first screen"
        assert not browser.errors, browser.errors
    finally:
        browser.close()


@pytest.mark.slow
def test_a_trained_run_shows_its_training_history(tmp_path, monkeypatch):
    """The report of a trained run draws its log.jsonl (losses per step, validation per epoch, the scored
    checkpoint marked); a line cut by a kill is skipped; training-free models and vanished runs have none."""
    from emubench.report.pages import _history

    monkeypatch.setenv("EMUBENCH_VECTOR_FIGURES", "1")
    log = [{"step": s, "epoch": s // 10, "loss_d": 1.0 / s, "loss_g": 2.0, "time_s": s} for s in (5, 10, 15, 20)]
    log += [{"step": s, "epoch": s // 10, "validation": {"ks_D": 0.5 / s, "ks_floor": 0.01}} for s in (10, 20)]
    (tmp_path / "log.jsonl").write_text("\n".join(json.dumps(r) for r in log) + '\n{"step": 2')
    manifest = {"best": "step-10", "checkpoints": {"step-10": {"step": 10}, "step-20": {"step": 20}}}
    info = {"provenance": {"run": str(tmp_path), "checkpoint": "step-10", "manifest": manifest}}
    picture = _history(info)
    assert picture is not None and picture.pdf.startswith(b"%PDF")
    assert _history({"provenance": {"model": "grf", "fit_seconds": 0.1}}) is None
    assert _history({"provenance": {"run": str(tmp_path / "gone"), "manifest": manifest}}) is None


def test_where_a_verdict_flagged_is_a_grid_of_the_design():
    """The cosmologies flagged alone, as the 5 × 5 design (σ8 up, Ωm right), not a screenful of text; the four
    held-out cosmologies, off the grid, stay a list."""
    from emubench.report.cosmologies import where_grid

    folder = ROOT / "reports" / "cosmologies" / "sigma8-biased"
    per, summary = pd.read_csv(folder / "verdicts.csv"), pd.read_csv(folder / "summary.csv")
    for r in summary.itertuples():
        grid = where_grid(per, ["omega_m", "sigma8"], r.metric, r.aspect, r.cosmology)
        if r.cosmology == "heldout":
            assert grid is None
            continue
        assert len(grid) == 5 and all(len(row) == 5 for row in grid)
        assert sum(c["flag"] for row in grid for c in row) == r.flagged
        assert grid[0][0]["title"] == "Ωm=0.2, σ8=0.9" and grid[-1][-1]["title"] == "Ωm=0.34, σ8=0.7"


def test_where_text_groups_the_cosmologies_by_the_first_parameter():
    """The summary's "where" (Markdown and CSV) names each value of the first parameter once, the values of the
    second after it, in order: the 15 flags of a 5 × 5 design read in one short line, not 15 repeated pairs."""
    from emubench.scoring import where_text

    folder = ROOT / "reports" / "cosmologies" / "sigma8-biased"
    per = pd.read_csv(folder / "verdicts.csv")
    g = per[(per.metric == "minkowski") & (per.aspect == "mean") & (per.cosmology == "train")]
    flags = g[g.verdict == "flag"]
    text = where_text(flags, ["omega_m", "sigma8"])
    assert text.count("omega_m=") == flags.omega_m.nunique() and text.count("sigma8=") == flags.omega_m.nunique()
    parsed = [
        (float(om.split("=")[1]), float(s8))
        for part in text.split("; ")
        for om, s8s in [part.split(": sigma8=")]
        for s8 in s8s.split(", ")
    ]
    assert parsed == sorted(zip(flags.omega_m, flags.sigma8)) and len(text) < 0.6 * len("; ".join(
        f"omega_m={a:g}, sigma8={b:g}" for a, b in parsed))  # fmt: skip
    assert where_text(flags.iloc[:0], ["omega_m", "sigma8"]) == ""
    assert where_text(flags.assign(h=0.7).iloc[:1], ["omega_m", "sigma8", "h"]).endswith("(sigma8=0.7, h=0.7)")


@pytest.mark.slow
def test_every_card_says_what_it_could_have_flagged(scored):
    """A pass is only as strong as its test: every card of a score on the measured dataset lists the smallest
    planted flaws its verdict flags (``emubench power``'s table, scaled to this n and said so), the memorisation
    card its own detectable fraction of copies, and the header the smallest flaw of each kind."""
    page = (scored / "C" / "report.html").read_text()
    cards = re.findall(r'<section class="card (?:pass|flag)".*?</section>', page, flags=re.S)
    builtin = [c for c in cards if 'data-metric="pixel-moments"' not in c]
    assert builtin and all("Would have flagged" in c for c in builtin), [c[:80] for c in builtin if "Would" not in c]
    # the example plugin's metric was never put through emubench power: its cards say so
    assert all("was not measured here" in c for c in cards if c not in builtin)
    assert "What a pass can see at this n" in page and "scaled to n = " in page and "checked at n = 307" in page
    memorisation = next(c for c in cards if 'data-metric="memorisation"' in c)
    assert re.search(r"copies of training maps .* in ≥ [\d.]+% of the maps", memorisation)


def test_what_a_pass_can_see_is_the_shipped_table_scaled_to_n():
    """The sizes a card quotes come from the table emubench power wrote into reports/calibration (no drift
    between them): at the measured n the measured ones, at a quarter of it twice as large, elsewhere nothing."""
    from emubench.report.reach import can_see, measured

    shipped = pd.read_csv(ROOT / "reports" / "calibration" / "smallest_flagged.csv", index_col="verdict")
    pd.testing.assert_frame_equal(measured("lognormal-lcdm-64"), shipped)
    level = shipped.loc["minkowski/mean", "amplitude"]
    assert f"κ amplitude error (fraction) ≥ {level:.2g}" in can_see("lognormal-lcdm-64", 1229, "minkowski/mean")
    assert f"≥ {2 * level:.2g}" in can_see("lognormal-lcdm-64", 1229 // 4 + 0.25, "minkowski/mean")[0]
    assert can_see("toy-grf", 100, "minkowski/mean") == []


def test_curves_declared_in_pixel_units_are_drawn_in_degrees():
    """Minkowski V1 (per pixel length) × npix/side, V2 (per pixel area) × (npix/side)², counts per map ÷ side²: the
    convention of the field, per degree and per deg²; V0 (an area fraction) and the ratios stay as they are;
    a unit the report does not know is refused where the plot is declared."""
    from emubench.metrics.curves import MinkowskiMetric, PeaksMetric
    from emubench.report.pages import in_degrees

    info = {"side_deg": 2.0, "npix": 64}  # 32 pixels a degree
    curves = pd.DataFrame(
        {"statistic": ["V0", "V1", "V2", "V1"], "set": ["reference"] * 3 + ["null-low"],
         "x": 0.0, "mean": 1.0, "std": 0.5}
    )  # fmt: skip
    got = in_degrees(MinkowskiMetric.plots[0], curves, info)
    assert got["mean"].tolist() == [1.0, 32.0, 1024.0, 32.0] and got["std"].tolist() == [0.5, 16.0, 512.0, 16.0]
    peaks = in_degrees(PeaksMetric.plots[0], curves.assign(statistic="peaks"), info)
    assert peaks["mean"].tolist() == [0.25] * 4
    assert "per deg²" in PeaksMetric.plots[0].ylabel and "deg⁻¹" in MinkowskiMetric.plots[0].ylabel
    plain = Plot("t", ("V1",))
    assert in_degrees(plain, curves, {}) is curves  # nothing declared: drawn as recorded, no geometry needed
    with pytest.raises(EmubenchError, match="no map geometry"):
        in_degrees(MinkowskiMetric.plots[0], curves, {})
    with pytest.raises(ValueError, match="per furlong"):
        Plot("t", ("V1",), units=(("V1", "per furlong"),))
    # stored in score.json as JSON lists, read back equal
    stored = json.loads(json.dumps(dataclasses.asdict(MinkowskiMetric.plots[0])))
    assert Plot(**stored) == MinkowskiMetric.plots[0]


def test_the_margin_figure_draws_exact_copies():
    """A model that returns training maps unchanged has d₁ = 0: unbounded margins, stored as the largest float.
    The figure drew its axis up to that value and failed (the memoriser's score crashed writing its report);
    exact copies now sit in the last bin, said so, beside the finite margins."""
    from emubench.report.plots import margin_figure

    rng = np.random.default_rng(0)
    held = rng.exponential(0.1, 60)
    for generated in (np.full(60, np.finfo(float).max), np.r_[np.full(30, np.finfo(float).max), held[:30]]):
        margins = {"generated": generated, "to_train": np.ones(60), "heldout": held, "chance": 0.5, "p_value": 1e-20}
        picture = margin_figure({"margins": margins, "cutoff": 0.62})
        assert base64.b64decode(picture).startswith(b"\x89PNG")


def test_vector_copies_can_be_left_out(monkeypatch):
    """EMUBENCH_VECTOR_FIGURES=0 (the suite's setting) draws each figure once: no PDF, no link to one."""
    import matplotlib.pyplot as plt

    from emubench.report.pages import keep_vector
    from emubench.report.plots import png

    for setting, has_pdf in (("0", False), ("1", True)):
        monkeypatch.setenv("EMUBENCH_VECTOR_FIGURES", setting)
        fig, ax = plt.subplots(layout="constrained")
        ax.plot([0, 1])
        picture, vectors = png(fig), {}
        assert (picture.pdf is not None) == has_pdf and base64.b64decode(picture).startswith(b"\x89PNG")
        assert (keep_vector(vectors, "figures", "a line", picture) is not None) == has_pdf and len(vectors) == has_pdf


def test_training_history_shows_near_copies_per_epoch():
    """A run whose validation records near-copies of training maps gets a third panel with their fraction per
    epoch (flagged epochs marked): a page shows when a model starts to copy. Without them, two panels."""
    import io

    from PIL import Image

    from emubench.report.plots import history_figure

    def width(records):
        with Image.open(io.BytesIO(base64.b64decode(history_figure(records, 20)))) as im:
            return im.size[0]

    steps = [{"step": s, "loss": 1.0 / s} for s in range(1, 31)]
    val = [{"step": 10 * e, "validation": {"ks_D": 0.1, "ks_floor": 0.03, "score": 3.0}} for e in (1, 2, 3)]
    copying = [
        {"step": 10 * e, "validation": {**v["validation"], "copies": c, "copies_flagged": c > 0.5}}
        for e, v, c in zip((1, 2, 3), val, (0.0, 0.2, 0.9))
    ]
    two, three = width(steps + val), width(steps + copying)
    assert abs(three / two - 1.5) < 0.05, (two, three)
