"""Progress of long work: bars with a count, a rate and an ETA on a terminal; none in a pipe or with --quiet.

The end-to-end test drives the README's two main commands (at a small size) in a pseudo-terminal 60 columns
wide, as a user would see them, and checks that every phase shows its bar: the dataset being generated, the
training steps, the null's pool, the metrics, the report being written."""

import fcntl
import io
import os
import pty
import re
import select
import struct
import subprocess
import sys
import termios

import pytest

from emubench import progress
from emubench.progress import Bar, say

CLEAR = "\r\x1b[K"


@pytest.fixture(autouse=True)
def _not_quiet(monkeypatch):
    """``emubench --quiet`` sets a process-wide flag; a CLI test run earlier in this worker (CliRunner, in
    process) may have left it on."""
    monkeypatch.setattr(progress, "_quiet", False)
    monkeypatch.delenv("EMUBENCH_PROGRESS", raising=False)


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def drawn(text: str) -> list[str]:
    """The states of the bar line, in order (each redraw starts with a clear of the line; a log line printed
    above the bar starts with one too, and is left out)."""
    states = [part.split("\n")[0] for part in text.split(CLEAR)[1:]]
    return [s for s in states if s and not s.startswith("[")]


def test_a_bar_shows_count_rate_and_eta_and_ends_with_a_newline(monkeypatch):
    monkeypatch.delenv("EMUBENCH_PROGRESS", raising=False)
    term = Terminal()
    with Bar("null draws", total=10, unit="draws", delay=0, stream=term) as bar:
        for _ in range(10):
            bar.update()
    states = drawn(term.getvalue())
    assert states, "nothing was drawn on a terminal"
    last = states[-1]
    assert last.startswith("null draws: 100%|") and "10/10 draws" in last, last
    assert re.search(r"\[\d\d:\d\d<\d\d:\d\d, [\d.,]+ draws/s\]", last), last
    assert term.getvalue().endswith("\n")


def test_an_inner_bar_is_drawn_after_its_parents_count_and_gives_the_line_back(monkeypatch):
    monkeypatch.delenv("EMUBENCH_PROGRESS", raising=False)
    term = Terminal()
    with Bar("metrics", total=3, unit="metrics", delay=0, stream=term) as outer:
        outer.update(1, postfix="power-spectrum")
        with Bar("null pool", total=4, unit="maps", delay=0, stream=term) as inner:
            inner.update(4)
        after_inner = len(term.getvalue())
        outer.update(2)
    states = drawn(term.getvalue())
    assert any(s.startswith("metrics 1/3 (power-spectrum) › null pool: 100%") for s in states), states
    tail = drawn(term.getvalue()[after_inner - len(CLEAR) - 200 :])
    assert tail[-1].startswith("metrics: 100%"), tail  # the outer bar has its line back
    assert term.getvalue().count("\n") == 1  # one finished line: the outer bar's


def test_log_lines_go_above_the_bar_and_stay_whole(monkeypatch, capsys):
    monkeypatch.delenv("EMUBENCH_PROGRESS", raising=False)
    term = Terminal()
    with Bar("training", total=2, unit="steps", delay=0, stream=term) as bar:
        bar.update()
        say("[train] step 1")
        bar.update()
    assert capsys.readouterr().out == "[train] step 1\n"
    assert drawn(term.getvalue())[-1].startswith("training: 100%")


@pytest.mark.parametrize("how", ["pipe", "quiet", "env"])
def test_no_bar_in_a_pipe_with_quiet_or_progress_off(monkeypatch, how):
    monkeypatch.delenv("EMUBENCH_PROGRESS", raising=False)
    stream = io.StringIO() if how == "pipe" else Terminal()
    if how == "quiet":
        monkeypatch.setattr(progress, "_quiet", True)
    if how == "env":
        monkeypatch.setenv("EMUBENCH_PROGRESS", "0")
    with Bar("x", total=3, delay=0, stream=stream) as bar:
        bar.update(3)
    assert stream.getvalue() == ""


def in_a_terminal(args: list[str], env: dict, columns: int = 60) -> tuple[int, str]:
    """Run ``args`` with stdin, stdout and stderr on a pseudo-terminal ``columns`` wide; (exit code, output)."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, columns, 0, 0))
    proc = subprocess.Popen(args, stdin=slave, stdout=slave, stderr=slave, env=env, close_fds=True)
    os.close(slave)
    out = b""
    while True:
        ready, _, _ = select.select([master], [], [], 0.2)
        if ready:
            try:
                chunk = os.read(master, 1 << 16)
            except OSError:  # the child closed the terminal
                break
            if not chunk:
                break
            out += chunk
        elif proc.poll() is not None:
            break
    proc.wait()
    os.close(master)
    return proc.returncode, out.decode("utf-8", "replace").replace("\r\n", "\n")


TRAIN = ["train", "cosmogan-dcgan", "--preset", "smoke", "--dataset", "lognormal-lcdm-64", "-D", "n_maps=300"]
TRAIN += ["-c", "width=8", "-c", "batch_size=16", "-c", "val_maps=32", "-c", "max_steps=20", "--device", "cpu"]


@pytest.mark.slow
def test_the_readme_commands_show_every_phase_in_a_terminal_and_nothing_when_quiet_or_piped(tmp_path):
    env = {**os.environ, "EMUBENCH_CACHE": str(tmp_path / "cache"), "EMUBENCH_PROGRESS_DELAY": "0"}
    for var in ("EMUBENCH_PROGRESS", "COLUMNS", "LINES"):  # COLUMNS would override the terminal's own width
        env.pop(var, None)
    cli = [sys.executable, "-m", "emubench.cli"]
    rc, out = in_a_terminal([*cli, *TRAIN, "--out", str(tmp_path / "run")], env)
    assert rc == 0, out
    rc, scored = in_a_terminal([*cli, "score", "--model", str(tmp_path / "run"), "--out", str(tmp_path / "rep")], env)
    assert rc == 0, scored
    states = drawn(out + scored)
    for phase, pattern in [
        ("dataset generation", r"^lognormal κ maps: +\d+%\|.*\d+/300 maps \["),
        ("training", r"^training: +\d+%\|.*\d+/20 steps \[\d\d:\d\d<\d\d:\d\d, [\d.,]+ steps/s\]"),
        ("validation inside training", r"^training \d+/20 › metrics"),
        ("the null's pool", r"null pool statistics: +\d+%"),
        ("the metrics", r"^metrics: +\d+%\|.*/\d+ metrics"),
        ("writing the report", r"^writing the report… \[\d\d:\d\d\]"),
    ]:
        assert any(re.search(pattern, s) for s in states), f"no bar for {phase}"
    assert max(len(s) for s in states) <= 59, max(states, key=len)  # fits the 60-column terminal
    # the log lines are whole lines of their own, never mixed into a bar
    logs = [line.split(CLEAR)[-1] for line in (out + scored).split("\n") if "[train]" in line or "[emubench]" in line]
    assert logs and all(line.startswith(("[train]", "[emubench]")) for line in logs), logs
    assert "[train] best checkpoint: step-0000020" in out

    rc, quiet = in_a_terminal([*cli, "--quiet", *TRAIN, "--out", str(tmp_path / "quiet")], env)
    assert rc == 0 and "\r" not in quiet and "\x1b" not in quiet, quiet
    piped = subprocess.run(
        [*cli, *TRAIN, "--out", str(tmp_path / "piped")], env=env, capture_output=True, text=True, check=True
    )
    assert "\r" not in piped.stdout + piped.stderr and "[train] step 20/20" in piped.stdout
