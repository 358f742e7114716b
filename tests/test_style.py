"""Style is part of the suite: ``ruff check`` and ``ruff format --check`` (configured in pyproject.toml: lines
of at most 120 characters) over the whole repository. ruff is pinned in the test extra, so that every machine
formats alike."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def ruff(*args: str) -> subprocess.CompletedProcess:
    exe = shutil.which("ruff") or pytest.fail("ruff is not installed: pip install -e '.[test]'")
    return subprocess.run([exe, *args], cwd=ROOT, capture_output=True, text=True)


def test_ruff_check():
    res = ruff("check", "--output-format", "concise", ".")
    assert res.returncode == 0, res.stdout + res.stderr


def test_ruff_format():
    res = ruff("format", "--check", ".")
    assert res.returncode == 0, res.stdout + res.stderr + "\n(run: ruff format .)"


def test_ruff_would_catch_a_long_line(tmp_path):
    """The configuration is live: a 121-character line is an error under it."""
    probe = tmp_path / "probe.py"
    probe.write_text("x = '" + "a" * 115 + "'\n")
    res = ruff("check", "--config", str(ROOT / "pyproject.toml"), "--select", "E501", str(probe))
    assert res.returncode == 1 and "E501" in res.stdout, res.stdout + res.stderr + sys.version


# Functions over the limits #25 sets (≤ 80 lines of body, ≤ 8 parameters), each at most its size today: the list
# may only shrink. click commands take one parameter per option, which is how click works.
LONG: dict[str, int] = {}
MANY: dict[str, int] = {}  # every function takes at most 8 parameters; commands group theirs


def test_functions_stay_short_and_take_few_parameters():
    """Every function in emubench/ and plugins/ has a body of at most 80 lines (docstring excluded) and at most
    8 parameters (self/cls excluded), except the ones listed above, which may not grow; fixing one means
    taking it off the list."""
    import ast

    long, many = {}, {}
    for path in sorted([*(ROOT / "emubench").rglob("*.py"), *(ROOT / "plugins").rglob("*.py")]):
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            key = f"{path.relative_to(ROOT).as_posix()}::{node.name}"
            body = node.body[1:] if ast.get_docstring(node) and len(node.body) > 1 else node.body
            lines = node.end_lineno - body[0].lineno + 1
            args = node.args
            params = [a.arg for a in (*args.posonlyargs, *args.args, *args.kwonlyargs) if a.arg not in ("self", "cls")]
            if lines > 80:
                long[key] = max(lines, long.get(key, 0))
            if len(params) > 8:
                many[key] = max(len(params), many.get(key, 0))
    grown = {k: (v, LONG.get(k)) for k, v in long.items() if v > LONG.get(k, 80)}
    assert not grown, f"functions over 80 lines (now, allowed): {grown}"
    wider = {k: (v, MANY.get(k)) for k, v in many.items() if v > MANY.get(k, 8)}
    assert not wider, f"functions over 8 parameters (now, allowed): {wider}"
    fixed = sorted({*LONG} - {*long} | {*MANY} - {*many})
    assert not fixed, f"off the limits now, take them off the list: {fixed}"
