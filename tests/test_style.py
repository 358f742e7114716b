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
