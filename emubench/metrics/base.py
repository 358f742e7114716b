"""What every metric shares: the scoring context, the row format, and curve comparisons with noise floors.

A metric plugin is a class with ``name``, ``description`` and
``evaluate(generated, reference, heldout, ctx) -> list[dict]``: generated, reference (validation split) and
held-out real maps (test split) are (n, H, W) κ arrays of equal length. Each row is a dict with
``statistic``, ``bin`` (ℓ, ν or NaN for a summary), ``value``, ``ideal`` (the value of a perfect emulator),
``floor``, ``summary`` and a bootstrap interval ``ci_low``/``ci_high`` (NaN where none). ``floor`` is how far from ``ideal`` the same statistic lands when comparing two
disjoint real sets of the same size (its ``FLOOR_QUANTILE`` over random re-splits of reference + held-out
maps); a row is flagged when |value − ideal| > floor. A metric's verdict is "flag" if any summary row is flagged.

``FeatureMetric`` does all of this for metrics defined by per-map feature vectors (power spectra, Minkowski
functionals, peak counts): per-map features are computed once and re-split cheaply for the floor.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

FLOOR_QUANTILE = {"bin": 0.95, "summary": 0.99}
CI_LEVEL = 0.95   # bootstrap confidence intervals (``ci_low``, ``ci_high``) where they are cheap


@dataclass
class Context:
    """What metrics need to know beyond the maps (all derived from the reference split, never the model)."""

    side_deg: float
    npix: int
    sigma_ref: float               # std of all reference pixels (κ), the unit of thresholds ν
    train: Any = None              # MapSet of training maps, for the memorisation check
    device: str = "cpu"
    seed: int = 0
    floor_draws: int = 100
    bootstrap_draws: int = 200     # resamples for the confidence intervals; 0 turns them off
    curves: list = field(default_factory=list)   # tidy rows for plots: metric, statistic, x, set, mean, std
    extras: dict = field(default_factory=dict)   # metric-specific material for the report (closest pairs)

    @classmethod
    def from_reference(cls, reference: np.ndarray, side_deg: float, **kw) -> "Context":
        return cls(side_deg=float(side_deg), npix=int(reference.shape[-1]),
                   sigma_ref=float(np.asarray(reference, dtype=np.float64).std()), **kw)


def row(statistic: str, bin: float, value: float, ideal: float, summary: bool, aspect: str) -> dict:
    """One result row. ``aspect`` groups rows into verdicts: mean, covariance, distribution, memorisation.
    ``ci_low``/``ci_high`` start as NaN (no interval); metrics that can afford one fill them in."""
    return {"statistic": statistic, "aspect": aspect, "bin": float(bin), "value": float(value), "ideal": float(ideal),
            "summary": summary, "ci_low": np.nan, "ci_high": np.nan}


def compare_curves(a: np.ndarray, r: np.ndarray, x: np.ndarray, prefix: str = "") -> list[dict]:
    """Compare per-map curves a (n_a, B) with reference curves r (n_r, B) at bin centres x (B,).

    Per bin: ratio of means, deviation of the means in units of the reference's standard error, ratio of
    standard deviations. Summaries: χ²/dof of the mean difference with the covariance 2·C_ref/n (≈1 when both
    sets come from one distribution), the largest |deviation|, the RMS over bins of log(ratio of means) (bins
    where both means are positive), the largest |log std ratio|, and the RMS
    difference of the bin-to-bin correlation matrices (emulators often get means right and covariances wrong).
    Bins where the reference never varies (empty ℓ bins, extreme thresholds) are skipped.
    """
    a = np.asarray(a, dtype=np.float64)
    r = np.asarray(r, dtype=np.float64)
    sr = r.std(0, ddof=1)
    keep = sr > 0
    a, r, x, sr = a[:, keep], r[:, keep], np.asarray(x)[keep], sr[keep]
    n = len(r)
    ma, mr, sa = a.mean(0), r.mean(0), a.std(0, ddof=1)
    p = prefix
    rows = []
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(mr != 0, ma / mr, np.nan)
        dev = (ma - mr) / (sr / np.sqrt(n))
        std_ratio = sa / sr
    for i, xi in enumerate(x):
        rows.append(row(f"{p}ratio", xi, ratio[i], 1.0, False, "mean"))
        rows.append(row(f"{p}dev-se", xi, dev[i], 0.0, False, "mean"))
        rows.append(row(f"{p}std-ratio", xi, std_ratio[i], 1.0, False, "covariance"))
    d = ma - mr
    cov = 2.0 * np.atleast_2d(np.cov(r, rowvar=False)) / n
    chi2 = float(d @ np.linalg.pinv(cov, rcond=1e-10, hermitian=True) @ d) / len(d)
    with np.errstate(divide="ignore", invalid="ignore"):
        log_std = np.abs(np.log(np.where(sa > 0, std_ratio, np.nan)))
        ca, cr = np.corrcoef(a, rowvar=False), np.corrcoef(r, rowvar=False)
    positive = np.isfinite(ratio) & (ratio > 0)
    rms_log = float(np.sqrt(np.mean(np.log(ratio[positive]) ** 2))) if positive.any() else np.nan
    off = ~np.eye(len(d), dtype=bool)
    corr_rms = float(np.sqrt(np.nanmean((np.nan_to_num(ca, nan=0.0) - cr)[off] ** 2))) if len(d) > 1 else 0.0
    rows += [
        row(f"{p}chi2-dof", np.nan, chi2, 0.0, True, "mean"),
        row(f"{p}max-abs-dev-se", np.nan, np.nanmax(np.abs(dev)), 0.0, True, "mean"),
        row(f"{p}rms-log-ratio", np.nan, rms_log, 0.0, True, "mean"),
        row(f"{p}max-abs-log-std-ratio", np.nan, np.nanmax(log_std) if np.isfinite(log_std).any() else np.inf, 0.0, True,
            "covariance"),
        row(f"{p}corr-rms-diff", np.nan, corr_rms, 0.0, True, "covariance"),
    ]
    return rows


def badness(rows: list[dict]) -> np.ndarray:
    v = np.array([r["value"] for r in rows], dtype=np.float64)
    ideal = np.array([r["ideal"] for r in rows], dtype=np.float64)
    out = np.abs(v - ideal)
    return np.where(np.isnan(out), np.inf, out)


def _key(r_: dict) -> tuple:
    """Rows of different draws match by statistic and bin."""
    return r_["statistic"], None if np.isnan(r_["bin"]) else r_["bin"]


def attach_floor(rows: list[dict], draws: list[list[dict]]) -> list[dict]:
    """Set ``floor`` and ``flagged`` on ``rows`` from real-vs-real ``draws`` of the same rows."""
    keyed = {}
    for draw in draws:
        for r_, b in zip(draw, badness(draw)):
            keyed.setdefault(_key(r_), []).append(b)
    for r_, b in zip(rows, badness(rows)):
        samples = keyed.get(_key(r_))
        if not samples:
            r_["floor"], r_["flagged"] = np.nan, False
            continue
        q = FLOOR_QUANTILE["summary" if r_["summary"] else "bin"]
        finite = np.asarray(samples)[np.isfinite(samples)]
        r_["floor"] = float(np.quantile(finite, q)) if len(finite) else np.inf
        r_["flagged"] = bool(b > r_["floor"])
    return rows


def attach_bootstrap(rows: list[dict], draws: list[list[dict]]) -> list[dict]:
    """Set ``ci_low``/``ci_high`` on ``rows``: the central CI_LEVEL interval of the same rows over bootstrap
    ``draws`` (percentile bootstrap). A row missing from a draw (a bin the resampled reference never varies
    in) or not finite in every draw keeps NaN."""
    if not draws:
        return rows
    keyed: dict[tuple, list[float]] = {}
    for draw in draws:
        for r_ in draw:
            keyed.setdefault(_key(r_), []).append(r_["value"])
    alpha = (1 - CI_LEVEL) / 2
    for r_ in rows:
        v = np.asarray(keyed.get(_key(r_), []), dtype=np.float64)
        if len(v) == len(draws) and np.all(np.isfinite(v)):
            r_["ci_low"], r_["ci_high"] = (float(q) for q in np.quantile(v, [alpha, 1 - alpha]))
    return rows


class FeatureMetric:
    """Base for metrics computed from per-map feature curves; subclasses define ``features``."""

    name = "feature-metric"
    description = ""

    def features(self, maps: torch.Tensor, ctx: Context) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """Return (x (B,), {statistic prefix: (n, B) per-map curve})."""
        raise NotImplementedError

    def evaluate(self, generated, reference, heldout, ctx: Context) -> list[dict]:
        to = lambda m: torch.as_tensor(np.asarray(m)).to(ctx.device)  # noqa: E731
        x, fg = self.features(to(generated), ctx)
        _, fr = self.features(to(reference), ctx)
        _, fh = self.features(to(heldout), ctx)
        rows: list[dict] = []
        rng = np.random.default_rng(ctx.seed)
        boot_rng = np.random.default_rng([ctx.seed, 1])  # its own stream, so the floors do not depend on it
        n = len(reference)
        for key in fg:
            name = f"{key}-" if len(fg) > 1 else ""
            value = compare_curves(fg[key], fr[key], x, name)
            pooled = np.concatenate([fr[key], fh[key]])
            draws = []
            for _ in range(ctx.floor_draws):
                perm = rng.permutation(len(pooled))
                draws.append(compare_curves(pooled[perm[:n]], pooled[perm[n:]], x, name))
            # Confidence intervals: both the generated and the reference maps are samples, so both are
            # resampled (with replacement); per-map features make each resample a few array operations.
            boot = []
            for _ in range(ctx.bootstrap_draws):
                ig, ir = boot_rng.integers(0, len(fg[key]), len(fg[key])), boot_rng.integers(0, n, n)
                boot.append(compare_curves(fg[key][ig], fr[key][ir], x, name))
            rows += attach_floor(attach_bootstrap(value, boot), draws)
            for label, f in (("generated", fg[key]), ("reference", fr[key]), ("heldout", fh[key])):
                for xi, m, s in zip(x, f.mean(0), f.std(0, ddof=1)):
                    ctx.curves.append({"metric": self.name, "statistic": key, "x": float(xi), "set": label,
                                       "mean": float(m), "std": float(s)})
        return rows
