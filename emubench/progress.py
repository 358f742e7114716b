"""Progress of long work: a bar with a count, a rate and an ETA on a terminal; nothing in a pipe or with --quiet.

Logs (a pipe, a file, CI) keep the one line per phase that the commands print (``[emubench] …``); bars are drawn
only on a terminal, so a log never fills with carriage returns. ``emubench --quiet`` turns them off everywhere
(``set_quiet``), as does ``EMUBENCH_PROGRESS=0``.

    with progress.Bar("null draws", total=1000, unit="draws") as bar:
        for ...:
            bar.update()
            bar.write("a log line printed above the bar")

A plugin (a trainer, a metric) uses it as ``emubench.Bar``; ``enabled=False`` makes it a no-op with the same
methods, so callers never branch on it.
"""

from __future__ import annotations

import os
import shutil
import sys
import threading
import time
from typing import IO, Any

_quiet = False
_active: list[Bar] = []  # the open bars, outermost first: the innermost is drawn, after its parents' counts
_lock = threading.RLock()  # the ticker thread and the main thread draw on the same line
_ticker: threading.Thread | None = None


def set_quiet(flag: bool) -> None:
    """No bars anywhere in this process (``emubench --quiet``)."""
    global _quiet
    _quiet = bool(flag)


def bars_on(stream: IO[str] | None = None) -> bool:
    """Whether a bar would be drawn on ``stream`` (stderr by default): a terminal, not quiet."""
    stream = stream if stream is not None else sys.stderr
    if _quiet or os.environ.get("EMUBENCH_PROGRESS") == "0":
        return False
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # a closed or unusual stream
        return False


def _number(x: float) -> str:
    return f"{x:,.0f}" if x >= 100 else f"{x:.1f}" if x >= 10 else f"{x:.2g}"


def _clock(seconds: float) -> str:
    seconds = int(round(seconds))
    h, rest = divmod(seconds, 3600)
    return f"{h}:{rest // 60:02d}:{rest % 60:02d}" if h else f"{rest // 60:02d}:{rest % 60:02d}"


class Bar:
    """``desc: 42%|████▌     | 420/1000 draws [00:12<00:17, 34.1 draws/s]`` on one line of a terminal, redrawn
    at most ten times a second, and every half second by a ticker thread while work runs between updates (the
    clock moves even during one long step); without a ``total``, a count and a rate. The rate (so the ETA) is the
    mean since the first update, so a slow first step (compilation, a cache) does not dominate it for long.

    A bar opened while another is open is drawn after its parent's count (``score 3/9 metrics › null pool:
    …``) and gives the line back when it closes. Nothing is drawn for the first ``delay`` seconds, so short work
    never flickers (``EMUBENCH_PROGRESS_DELAY`` sets the default, 0.5)."""

    def __init__(
        self,
        desc: str,
        total: int | None = None,
        unit: str = "it",
        *,
        enabled: bool = True,
        delay: float | None = None,
        stream: IO[str] | None = None,
    ):
        self.desc, self.total, self.unit = desc, total, unit
        self.delay = float(os.environ.get("EMUBENCH_PROGRESS_DELAY", 0.5)) if delay is None else delay
        self.stream = stream if stream is not None else sys.stderr
        self.on = enabled and bars_on(self.stream)
        self.n, self.postfix = 0, ""
        self.start = time.perf_counter()
        self._first: tuple[float, int] | None = None  # (time, count) at the first update: the rate's origin
        self._drawn = 0.0
        self._shown = False

    def __enter__(self) -> Bar:
        if self.on:
            with _lock:
                _active.append(self)
            _start_ticker()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def update(self, n: int = 1, postfix: str | None = None) -> None:
        """``n`` more units done; ``postfix``: a short text after the rate (a loss, the current item)."""
        if self._first is None:
            self._first = (time.perf_counter(), self.n)
        self.n += n
        if postfix is not None:
            self.postfix = postfix
        self._draw()

    def write(self, message: str) -> None:
        """Print a line (to stdout) above the bar, where a plain ``print`` would be overwritten by the bar."""
        say(message)

    def close(self) -> None:
        """Finish the bar: a final draw and a newline, or give the line back to the parent bar (``with`` calls it)."""
        if not self.on:
            return
        with _lock:
            self._draw(force=True)
            inner = _active.index(self) > 0 if self in _active else False
            if self in _active:
                _active.remove(self)
            self.on = False
            if self._shown and inner:
                self.stream.write("\r\x1b[K")  # the parent takes the line back
                _active[-1]._draw(force=True)
            elif self._shown:
                self.stream.write("\n")
            self.stream.flush()

    def rate(self) -> float | None:
        """Units per second since the first update (None before a second update)."""
        if self._first is None:
            return None
        t, n0 = self._first
        dt = time.perf_counter() - t
        return (self.n - n0) / dt if dt > 0 and self.n > n0 else None

    def line(self, width: int = 100) -> str:
        """The bar as text, at most ``width`` characters."""
        elapsed = time.perf_counter() - self.start
        rate = self.rate()
        speed = f"{_number(rate)} {self.unit}/s" if rate else f"? {self.unit}/s"
        post = f" {self.postfix}" if self.postfix else ""
        if not self.total and not self.n:
            return f"{self.desc}… [{_clock(elapsed)}]{post}"[:width]
        if not self.total:
            return f"{self.desc}: {self.n} {self.unit} [{_clock(elapsed)}, {speed}]{post}"[:width]
        frac = min(1.0, self.n / self.total)
        eta = _clock((self.total - self.n) / rate) if rate else "?"
        stats = f" {self.n}/{self.total} {self.unit} [{_clock(elapsed)}<{eta}, {speed}]{post}"
        head = f"{self.desc}: {frac * 100:3.0f}%|"
        cells = min(max(0, width - len(head) - len(stats) - 1), 30)
        full = frac * cells
        bar = "█" * int(full) + (" ▏▎▍▌▋▊▉"[int((full % 1) * 8)] if full < cells else "")
        return f"{head}{bar.ljust(cells)}|{stats}"[:width]

    def _label(self) -> str:
        """What an inner bar shows of this one: its description, count and postfix."""
        count = f" {self.n}/{self.total}" if self.total else f" {self.n}"
        return f"{self.desc}{count}" + (f" ({self.postfix})" if self.postfix else "")

    def _draw(self, force: bool = False) -> None:
        if not self.on:
            return
        with _lock:
            now = time.perf_counter()
            if now - self.start < self.delay or not _active or _active[-1] is not self:
                return  # not yet, or an inner bar holds the line
            if not force and now - self._drawn < 0.1 and (self.total is None or self.n < self.total):
                return
            self._drawn, self._shown = now, True
            width = shutil.get_terminal_size((100, 20)).columns - 1
            prefix = "".join(b._label() + " › " for b in _active[:-1])
            own = self.line(max(min(width, 36), width - len(prefix)))  # room for this bar's counts first
            if len(prefix) + len(own) > width:  # the parents' labels give way from the left
                prefix = "…" + prefix[len(prefix) + len(own) - width + 1 :] if width > len(own) else ""
            self.stream.write("\r\x1b[K" + prefix + own)
            self.stream.flush()


def say(message: str) -> None:
    """Print ``message`` to stdout as a line of its own, above the bar being drawn if there is one (the log
    lines of a command: ``[emubench] …``, ``[train] …``)."""
    with _lock:
        top = _active[-1] if _active else None
        if top is not None and any(b._shown for b in _active):
            top.stream.write("\r\x1b[K")
            top.stream.flush()
        print(message, flush=True)
        if top is not None:
            top._draw(force=True)


def _start_ticker() -> None:
    """One daemon thread for the process that redraws the innermost bar every half second."""
    global _ticker
    if _ticker is not None and _ticker.is_alive():
        return

    def tick() -> None:
        while True:
            time.sleep(0.5)
            with _lock:
                if _active:
                    _active[-1]._draw(force=True)

    _ticker = threading.Thread(target=tick, name="emubench-progress", daemon=True)
    _ticker.start()
