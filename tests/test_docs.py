"""docs/plugins.md is the plugin API's documentation: every hook and every member of every contract is in it
with its signature, each complete example it prints is byte for byte the file in examples/, and its commands
run as printed (train, score, report, install) with those examples."""

import inspect
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from emubench import contracts, hookspecs
from emubench.contracts import protocol_members, signature_text

ROOT = Path(__file__).resolve().parents[1]
DOC = (ROOT / "docs" / "plugins.md").read_text()
PROTOCOLS = [
    contracts.Dataset,
    contracts.GeneratorDataset,
    contracts.Model,
    contracts.TrainedModel,
    contracts.Trainer,
    contracts.Metric,
]
HOOKS = [name for name, f in vars(hookspecs).items() if inspect.isfunction(f) and hasattr(f, "emubench_spec")]


def section(title: str) -> str:
    """The text of the ``### `title` `` section of the docs."""
    start = DOC.index(f"### `{title}`")
    end = DOC.find("\n## ", start + 1)
    nxt = DOC.find("\n### ", start + 1)
    return DOC[start : min(e for e in (end, nxt, len(DOC)) if e > 0)]


def test_every_hook_spec_is_found():
    assert HOOKS and set(HOOKS) == {impl for impl in dir(hookspecs) if impl.startswith("register_")}


@pytest.mark.parametrize("hook", HOOKS)
def test_every_hook_is_documented_with_its_signature(hook):
    sig = str(inspect.signature(getattr(hookspecs, hook))).replace("'", "")
    assert f"`{hook}{sig}" in DOC, f"docs/plugins.md does not show {hook}{sig}"


@pytest.mark.parametrize(
    "protocol,member", [(p, m) for p in PROTOCOLS for m in protocol_members(p)], ids=lambda x: getattr(x, "__name__", x)
)
def test_every_contract_member_is_documented_with_its_signature(protocol, member):
    text = signature_text(protocol, member)
    assert f"`{text}" in section(protocol.__name__), f"the {protocol.__name__} section does not show `{text}`"


FILE_BLOCK = re.compile(r"<!-- file: (\S+) -->\n```\w+\n(.*?)```\n", re.S)


def test_the_examples_printed_are_the_files():
    blocks = FILE_BLOCK.findall(DOC)
    assert {p for p, _ in blocks} >= {
        "examples/plugins/toy_dataset.py",
        "examples/plugins/spectrum_model.py",
        "examples/plugins/moments_metric.py",
        "examples/emubench-example-plugin/emubench_example_plugin.py",
    }
    for path, text in blocks:
        assert (ROOT / path).read_text() == text, f"docs/plugins.md prints another {path}"


def run_as_printed(lines: list[str], cwd: Path, env: dict) -> list[str]:
    """Run the shell lines of a page one by one in ``cwd``, this interpreter's scripts first on PATH (an
    ``export KEY=VALUE`` line sets ``env`` for the rest); each must succeed. Returns each command's stdout."""
    env = {**env, "PATH": os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])}
    outputs = []
    for line in lines:
        if line.startswith("export "):
            key, value = line[len("export ") :].split("=", 1)
            env[key] = value
            continue
        res = subprocess.run(line, shell=True, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
        assert res.returncode == 0, f"{line}\n{res.stdout[-2000:]}\n{res.stderr[-2000:]}"
        outputs.append(res.stdout)
    return outputs


def commands() -> list[str]:
    block = DOC.split("<!-- commands -->\n```bash\n", 1)[1].split("```", 1)[0]
    return [line for line in block.splitlines() if line.strip()]


@pytest.mark.slow
def test_the_documented_commands_run_as_printed(tmp_path):
    """The lines of the docs' command block, run one by one in a scratch copy of examples/ (pip installs into a
    scratch folder: PIP_TARGET, so the test environment is left as it was)."""
    shutil.copytree(ROOT / "examples", tmp_path / "examples", ignore=shutil.ignore_patterns("build", "*.egg-info"))
    site = tmp_path / "site"
    env = {
        **os.environ,
        "PIP_TARGET": str(site),
        "PIP_NO_DEPS": "1",
        "PIP_NO_BUILD_ISOLATION": "0",
        "PYTHONPATH": os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")]),
    }
    env.pop("EMUBENCH_LOAD_PLUGINS", None)  # the installed example plugin must load
    outputs = run_as_printed(commands(), tmp_path, env)
    listing = outputs[0]
    for name in ("toy-grf", "mean-spectrum", "mean-spectrum-trainer", "pixel-moments"):
        assert name in listing
    # the trained example is a perfect emulator of the toy data; the smoothed GRF loses small-scale power
    perfect = (tmp_path / "reports" / "mean-spectrum" / "summary.md").read_text()
    assert "| power-spectrum | mean | **pass**" in perfect and "| pixel-moments | mean |" in perfect
    assert "| memorisation | memorisation | **pass**" in perfect
    # the example plugin's own command (register_commands) ran: a row of moments per map
    moments = next(o for o in outputs if o.startswith("map  variance"))
    assert len(moments.strip().splitlines()) == 1 + 3
    smoothed = (tmp_path / "reports" / "smoothed-grf" / "summary.md").read_text()
    assert "| power-spectrum | mean | **flag**" in smoothed
    # the example's third-party metric gets a leaderboard column and an overlay plot, as a built-in one does
    board = (tmp_path / "reports" / "toy-leaderboard" / "leaderboard.md").read_text()
    assert "pixel-moments:chi2-dof" in board and "## Dataset `toy-grf`" in board
    assert list((tmp_path / "reports" / "toy-leaderboard" / "plots").glob("*pixel-moments.png"))
    assert (tmp_path / "runs" / "mean-spectrum" / "manifest.json").exists()


def test_the_api_reference_is_what_the_docstrings_say():
    """docs/api.md is generated from the public names' signatures and docstrings (``python -m
    emubench.api_reference``): it must not drift from the code, and every public name is in it."""
    import emubench
    import emubench.stats
    from emubench.api_reference import markdown

    text = (ROOT / "docs" / "api.md").read_text()
    assert text == markdown(), "run: python -m emubench.api_reference > docs/api.md"
    names = [f"emubench.{n}" for n in emubench.__all__ if n != "__version__"]
    names += [f"emubench.stats.{n}" for n in emubench.stats.__all__]
    assert all(f"### `{n}`" in text for n in names)
    assert "(no docstring)" not in text


def test_the_cli_reference_is_what_help_prints():
    """docs/cli.md is generated from every command's --help (``python -m emubench.cli_reference``): it must not
    drift from the code."""
    from emubench.cli_reference import markdown

    assert (ROOT / "docs" / "cli.md").read_text() == markdown(), "run: python -m emubench.cli_reference > docs/cli.md"


def _slug(heading: str) -> str:
    """GitHub's anchor of a Markdown heading."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


@pytest.mark.parametrize(
    "page", ["README.md", *sorted(p.relative_to(ROOT).as_posix() for p in (ROOT / "docs").glob("*.md"))]
)
def test_every_relative_link_and_anchor_resolves(page):
    """README and docs point at each other (measurements moved to docs/validation.md): a moved section or a
    renamed heading must not leave a dead link."""
    path = ROOT / page
    text = re.sub(r"```.*?```", "", path.read_text(), flags=re.S)
    dead = []
    for target in re.findall(r"\]\(([^)\s]+)\)", text):
        if re.match(r"[a-z]+:", target):
            continue  # http(s), mailto: not checked here
        file, _, anchor = target.partition("#")
        dest = (path.parent / file).resolve() if file else path
        if not dest.exists():
            dead.append(target)
        elif anchor and dest.suffix == ".md":
            headings = re.findall(r"^#+ (.+)$", re.sub(r"```.*?```", "", dest.read_text(), flags=re.S), re.M)
            if anchor not in {_slug(h) for h in headings}:
                dead.append(target)
    assert not dead, f"{page}: {dead}"


TUTORIAL = (ROOT / "docs" / "tutorial.md").read_text()


def test_the_tutorial_prints_its_files():
    blocks = FILE_BLOCK.findall(TUTORIAL)
    assert {p for p, _ in blocks} == {"examples/tutorial/hot_pixels.py", "examples/tutorial/pixel_shuffle.py"}
    for path, text in blocks:
        assert (ROOT / path).read_text() == text, f"docs/tutorial.md prints another {path}"


@pytest.mark.slow
def test_the_tutorial_commands_run_as_printed(tmp_path):
    """Every command of the tutorial, in order, in a scratch folder with a copy of examples/; the outcomes it
    describes: real maps pass, real maps scaled by 10% are flagged, pixel-shuffled maps pass the hot-pixel
    fraction and fail the power spectrum."""
    shutil.copytree(ROOT / "examples" / "tutorial", tmp_path / "examples" / "tutorial")
    blocks = re.findall(r"```bash\n(.*?)```", TUTORIAL, re.S)
    lines = [line for block in blocks for line in block.splitlines() if line.strip()]
    assert len(lines) == 5
    run_as_printed(lines, tmp_path, dict(os.environ))

    def summary(name):
        return (tmp_path / "reports" / name / "summary.md").read_text()

    assert "| hot-pixels | mean | **pass**" in summary("tutorial-crops")
    assert "| hot-pixels | mean | **flag**" in summary("tutorial-scaled")
    shuffled = summary("tutorial-shuffle")
    assert "| hot-pixels | mean | **pass**" in shuffled
    assert "| power-spectrum | mean | **flag**" in shuffled and "| power-spectrum | covariance | **flag**" in shuffled
