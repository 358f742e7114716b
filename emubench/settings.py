"""How a score is made, as one frozen object passed whole from the command line to the metrics.

Light on purpose (no numpy, no pandas): the CLI reads its defaults from here before anything heavy is imported.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from .errors import EmubenchError

ALPHA = 0.05  # family-wise false-positive rate of a whole score (every verdict together)
NULL_DRAWS = 1000  # real-vs-real draws each verdict is calibrated on
BOOTSTRAP_DRAWS = 200  # resamples for the per-bin 95% intervals
NULL_CHOICES = ("auto", "fresh", "train")  # where the null's real maps come from (emubench.metrics.null)


@dataclass(frozen=True)
class ScoreSettings:
    """What a score depends on besides the maps: the same settings give the same null, floors and verdicts.

    n: maps per set (None: the whole validation split, at most the generated maps); seed: sampling, null and
    bootstrap seed; floor_draws: null draws per verdict; alpha: the whole score's false-positive rate; null:
    "auto", "fresh" or "train"; bootstrap_draws: resamples for per-bin intervals (0: none); device: where the
    statistics run; metrics: the metric names (None: every registered one that applies)."""

    n: int | None = None
    seed: int = 0
    floor_draws: int = NULL_DRAWS
    alpha: float = ALPHA
    null: str = "auto"
    bootstrap_draws: int = BOOTSTRAP_DRAWS
    device: str = "cpu"
    metrics: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        if self.metrics is not None:
            object.__setattr__(self, "metrics", tuple(self.metrics) or None)
        if self.n is not None and int(self.n) < 2:
            raise EmubenchError(f"need at least 2 maps per set to score, got n={self.n}")
        if not 0 < self.alpha < 1:
            raise EmubenchError(f"alpha must be between 0 and 1, got {self.alpha}")
        if int(self.floor_draws) < 1:
            raise EmubenchError(f"floor_draws must be at least 1, got {self.floor_draws}")
        if int(self.bootstrap_draws) < 0:
            raise EmubenchError(f"bootstrap_draws must be 0 or more, got {self.bootstrap_draws}")
        if self.null not in NULL_CHOICES:
            raise EmubenchError(f"unknown null {self.null!r} ({', '.join(NULL_CHOICES)})")

    def replace(self, **changes) -> ScoreSettings:
        """A copy with ``changes`` (checked like a new one)."""
        return dataclasses.replace(self, **changes)

    @classmethod
    def of(cls, settings: ScoreSettings | None = None, **options) -> ScoreSettings:
        """``settings`` with keyword ``options`` (ScoreSettings fields) applied; a one-line error for an unknown
        option."""
        fields = {f.name for f in dataclasses.fields(cls)}
        unknown = set(options) - fields
        if unknown:
            raise EmubenchError(f"unknown score setting(s) {', '.join(sorted(unknown))} (known: {', '.join(fields)})")
        base = settings or cls()
        return base.replace(**options) if options else base
