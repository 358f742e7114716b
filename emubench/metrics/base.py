"""What every metric shares: the scoring context, the row format, and calibrated tests against a real-vs-real null.

A metric plugin is a class with ``name``, ``description`` and
``evaluate(generated, reference, heldout, ctx) -> list[dict]``: generated, reference (validation split) and
held-out real maps (test split) are (n, H, W) κ arrays of equal length. Each row is a dict with
``statistic``, ``bin`` (ℓ, ν or NaN for a summary), ``value``, ``ideal`` (what a perfect emulator scores on
average), ``summary``, ``aspect``, ``floor``, ``flagged``, a p-value ``p_value`` and an interval
``ci_low``/``ci_high`` (NaN where none is sound). A metric declares the verdicts it returns in ``aspects``
(e.g. ``("mean", "covariance")``) so that the score can split its false-positive rate among them.

How a verdict is decided (``calibrate``): the same summary statistics are computed for ``ctx.null``'s
real-vs-real comparisons (the *null*: sets of real maps outside the reference, each compared with it, i.e. what
a perfect emulator would score against this reference; see ``metrics.null``). The verdict of a (metric, aspect)
is a family-wise test over its summary rows, a single-step max-T: each row's distance from its ideal is
studentised by its spread in the null, and the largest over the rows is compared with the largest in each null
draw. A row is flagged when its family-wise adjusted p-value is at most ``ctx.alpha`` (the rate given to one
verdict); ``floor`` is the |value − ideal| the row would have to exceed to be flagged: the value a perfect
emulator stays below at the stated rate. The null never contains the generated maps, so floors depend on the
reference and the settings only, never on the model. Per-bin rows are informational: no floor, never flagged,
never in a verdict.

``FeatureMetric`` does all of this for metrics defined by per-map feature vectors (power spectra, Minkowski
functionals, peak counts, pixel CDFs): per-map features are computed once and the null draws only re-select
rows, so thousands of draws are cheap.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from ..contracts import MetricResult
from .null import NullDraws

if TYPE_CHECKING:  # torch is imported on use, so that listing and checking plugins stays fast
    import torch

CI_LEVEL = 0.95  # confidence intervals (``ci_low``, ``ci_high``) where one is sound


@dataclass
class Context:
    """What metrics need to know beyond the maps (all derived from the reference split, never the model)."""

    side_deg: float
    npix: int
    sigma_ref: float  # std of all reference pixels (κ), the unit of thresholds ν
    train: Any = None  # MapSet of training maps, for the memorisation check
    device: str = "cpu"
    seed: int = 0
    alpha: float = 0.01  # false-positive rate of one (metric, aspect) verdict
    null: NullDraws | None = None  # the real-vs-real comparisons every metric is calibrated on
    bootstrap_draws: int = 200  # resamples for the per-bin confidence intervals; 0 turns them off
    curves: list = field(default_factory=list)  # tidy rows for plots: metric, statistic, x, set, mean, std
    extras: dict = field(default_factory=dict)  # metric-specific material for the report (closest pairs)
    # What does not depend on the generated maps (the null pool's features, held-out distances), kept across
    # scores of many emulators against the same splits, n and seed (``score(cache=...)``); empty otherwise.
    cache: dict = field(default_factory=dict)
    # the reference's parameters (P,) when it is one cosmology of a dataset of several, else None
    params: np.ndarray | None = None
    # the reference maps themselves (N, H, W) κ, for units a metric derives from them (starlet scales' σ)
    reference: np.ndarray | None = None
    # what one score computes from its generated maps and other metrics may reuse (per-map features), by key;
    # emptied with every score (``cache`` keeps what does not depend on the generated maps)
    scratch: dict = field(default_factory=dict)

    @property
    def floor_draws(self) -> int:
        """How many real-vs-real draws the null has (0 without one)."""
        return len(self.null) if self.null is not None else 0

    @classmethod
    def from_reference(cls, reference: np.ndarray, side_deg: float, **kw) -> Context:
        """The context of a score against ``reference`` (n, H, W) κ maps of side ``side_deg`` degrees: their size,
        pixel σ (the unit of thresholds ν) and the maps themselves; ``kw``: any other field."""
        return cls(
            side_deg=float(side_deg),
            npix=int(reference.shape[-1]),
            sigma_ref=float(np.asarray(reference, dtype=np.float64).std()),
            reference=np.asarray(reference),
            **kw,
        )


def row(statistic: str, bin: float, value: float, ideal: float, summary: bool, aspect: str) -> dict:
    """One result row. ``aspect`` groups rows into verdicts: mean, covariance, distribution, memorisation.
    ``floor``, ``p_value`` and ``ci_low``/``ci_high`` start as NaN and ``flagged`` as False; ``calibrate``
    fills in the first three for summary rows, metrics fill in intervals where one is sound."""
    return {
        "statistic": statistic,
        "aspect": aspect,
        "bin": float(bin),
        "value": float(value),
        "ideal": float(ideal),
        "summary": summary,
        "ci_low": np.nan,
        "ci_high": np.nan,
        "floor": np.nan,
        "p_value": np.nan,
        "flagged": False,
    }


# -- curve comparisons -------------------------------------------------------------------------------

SUMMARY_ASPECT = {
    "chi2-dof": "mean",
    "max-abs-dev-se": "mean",
    "rms-log-ratio": "mean",
    "amplitude": "mean",
    "max-abs-log-std-ratio": "covariance",
    "corr-rms-diff": "covariance",
}
SUMMARY_IDEAL = {"chi2-dof": 1.0, "amplitude": 1.0}  # every other summary: 0


def outside_reference(x: np.ndarray, r: np.ndarray, constant: np.ndarray) -> np.ndarray:
    """(n,) bool: which curves of x (n, B) differ from the reference's value in a bin where every reference
    curve r (n_r, B) has the same value (``constant``: (B,) bool, e.g. V0 = 1 below the smallest pixel of every
    reference map). Such a bin carries no mean or spread to compare, but a generated map that differs there lies
    outside the range the reference ever reaches."""
    return np.any(np.asarray(x)[:, constant] != np.asarray(r)[0, constant], axis=1)


def usable_bins(r: np.ndarray) -> np.ndarray:
    """Bins a reference set actually varies in (a bin where it never varies has no standard error)."""
    return np.asarray(r, dtype=np.float64).std(0, ddof=1) > 0


def moments(x: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
    """(mean (B,), covariance (B, B) with ddof=1, count) of per-map curves x (n, B)."""
    x = np.asarray(x, dtype=np.float64)
    return x.mean(0), np.atleast_2d(np.cov(x, rowvar=False)), len(x)


def subset_moments(select: np.ndarray, x: np.ndarray, xx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Means (D, B) and covariances (D, B, B) of D sets of rows of x (P, B) at once.

    select: (D, P) counts of each row in each set (0/1 for subsets; more where rows repeat), every set of the
    same size m; xx: (P, B·B) per-row outer products.
    Two matrix products instead of D fancy-indexed copies: this is what makes thousands of null draws cheap.
    x should be centred (``null_draw_summaries`` subtracts the population mean), so that float32 products lose
    nothing to cancellation in E[xxᵀ] − E[x]E[x]ᵀ."""
    m = float(select[0].sum())
    mean = (select @ x).astype(np.float64) / m
    second = ((select @ xx).astype(np.float64) / m).reshape(len(select), x.shape[1], x.shape[1])
    cov = (second - mean[:, :, None] * mean[:, None, :]) * (m / (m - 1))
    return mean, cov


def summaries_from_moments(
    ma: np.ndarray, ca: np.ndarray, mr: np.ndarray, cr: np.ndarray, n_r: int, amplitude: bool = False
) -> dict[str, np.ndarray]:
    """Summary statistics of a set of curves (mean ma, covariance ca) against a reference set (mr, cr, n_r maps).

    Batched: ma (D, B), ca (D, B, B); mr, cr either the same shapes or one reference (B,), (B, B).
    Returns {name: (D,)}:
    - chi2-dof: χ²/dof of the mean difference with the covariance 2·C_ref/n (≈ 1 for two sets of one
      distribution, which is its ideal);
    - max-abs-dev-se: the largest |mean difference| in standard errors of the reference mean;
    - rms-log-ratio: RMS over bins of log(ratio of means) (bins where the ratio is positive);
    - max-abs-log-std-ratio: the largest |log ratio of per-bin standard deviations|;
    - corr-rms-diff: RMS difference of the bin-to-bin correlation matrices (emulators often get means right
      and covariances wrong);
    - amplitude (with ``amplitude``): the best-fit A in mean ≈ A·mean_ref, weighted by 1/var_ref.
    """
    ma, ca = np.atleast_2d(ma), ca.reshape(-1, *ca.shape[-2:])
    prec = np.broadcast_to(np.linalg.pinv(2.0 * np.asarray(cr) / n_r, rcond=1e-10, hermitian=True), ca.shape)
    mr, cr = np.broadcast_to(mr, ma.shape), np.broadcast_to(cr, ca.shape)
    b = ma.shape[1]
    d = ma - mr
    chi2 = np.einsum("db,dbc,dc->d", d, prec, d) / b
    va, vr = np.diagonal(ca, axis1=1, axis2=2), np.diagonal(cr, axis1=1, axis2=2)
    # over: a bin whose spread is nearly zero in one set (a threshold below nearly every pixel) divides by a
    # subnormal; such correlations are clipped to [−1, 1] below, where every correlation lies
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        dev = d / np.sqrt(vr / n_r)
        ratio = np.where(mr != 0, ma / mr, np.nan)
        log_ratio2 = np.where(np.isfinite(ratio) & (ratio > 0), np.log(np.where(ratio > 0, ratio, 1.0)) ** 2, np.nan)
        log_std = 0.5 * np.abs(np.log(va / vr))
        sa, sr = np.sqrt(va), np.sqrt(vr)
        corr_a = ca / (sa[:, :, None] * sa[:, None, :])
        corr_r = cr / (sr[:, :, None] * sr[:, None, :])
    off = ~np.eye(b, dtype=bool)
    have = np.isfinite(log_ratio2).any(1)
    out = {
        "chi2-dof": chi2,
        "max-abs-dev-se": np.max(np.abs(dev), axis=1),
        "rms-log-ratio": np.where(have, np.sqrt(np.nanmean(np.where(have[:, None], log_ratio2, 0.0), axis=1)), np.inf),
        "max-abs-log-std-ratio": np.where(np.isfinite(log_std).all(1), np.max(np.nan_to_num(log_std), axis=1), np.inf),
        "corr-rms-diff": (
            np.sqrt(
                np.mean(
                    ((np.clip(np.nan_to_num(corr_a, nan=0.0), -1, 1) - np.clip(corr_r, -1, 1))[:, off]) ** 2, axis=1
                )
            )
            if b > 1
            else np.zeros(len(ma))
        ),
    }
    if amplitude:
        out["amplitude"] = np.sum(ma * mr / vr, 1) / np.sum(mr * mr / vr, 1)
    return out


def curve_summaries(a: np.ndarray, r: np.ndarray, amplitude: bool = False) -> dict[str, float]:
    """``summaries_from_moments`` of per-map curves a (n_a, B) against reference curves r (n_r, B)."""
    ma, ca, _ = moments(a)
    mr, cr, n_r = moments(r)
    return {k: float(v[0]) for k, v in summaries_from_moments(ma, ca, mr, cr, n_r, amplitude).items()}


def amplitude_error(a: np.ndarray, r: np.ndarray) -> float:
    """Standard error of ``curve_summaries``' amplitude: the weighted fit's error from both sets' scatter,
    bin-to-bin correlations included (σ_A² = wᵀ(C_a/n_a + A² C_r/n_r)w with w the fit's weights)."""
    ma, mr = a.mean(0), r.mean(0)
    ca, cr = np.atleast_2d(np.cov(a, rowvar=False)), np.atleast_2d(np.cov(r, rowvar=False))
    vr = np.diag(cr)
    w = (mr / vr) / np.sum(mr * mr / vr)
    amp = float(w @ ma)
    return float(np.sqrt(w @ (ca / len(a) + amp**2 * cr / len(r)) @ w))


def compare_curves(
    a: np.ndarray,
    r: np.ndarray,
    x: np.ndarray,
    prefix: str = "",
    amplitude: bool = False,
    bootstrap: list[tuple[np.ndarray, np.ndarray]] | None = None,
) -> list[dict]:
    """Rows comparing per-map curves a (n_a, B) with reference curves r (n_r, B) at bin centres x (B,).

    Per bin (informational): ratio of means, deviation of the means in standard errors of the reference mean,
    ratio of standard deviations, each with a percentile-bootstrap interval over ``bootstrap`` index pairs
    (these are smooth statistics, for which the percentile interval is sound). Summaries: ``curve_summaries``;
    they get no bootstrap interval (the percentile bootstrap of a non-negative distance such as χ² is biased
    upward and its interval can exclude the estimate), except the amplitude, whose interval is ±1.96 σ_A.
    Bins where the reference never varies have no mean or spread to compare and are left out of these rows;
    ``FeatureMetric`` reports them as one summary, the fraction of generated maps outside the reference's range.
    """
    a = np.asarray(a, dtype=np.float64)
    r = np.asarray(r, dtype=np.float64)
    keep = usable_bins(r)
    a, r, x = a[:, keep], r[:, keep], np.asarray(x)[keep]
    n = len(r)
    ma, mr, sa, sr = a.mean(0), r.mean(0), a.std(0, ddof=1), r.std(0, ddof=1)

    def per_bin(ma, mr, sa, sr):
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(mr != 0, ma / mr, np.nan), (ma - mr) / (sr / np.sqrt(n)), sa / sr

    ratio, dev, std_ratio = per_bin(ma, mr, sa, sr)
    p = prefix
    rows = []
    for name, vals, ideal, aspect in (
        (f"{p}ratio", ratio, 1.0, "mean"),
        (f"{p}dev-se", dev, 0.0, "mean"),
        (f"{p}std-ratio", std_ratio, 1.0, "covariance"),
    ):
        rows += [row(name, xi, v, ideal, False, aspect) for xi, v in zip(x, vals)]
    if bootstrap:
        boot = np.stack(
            [
                np.concatenate(per_bin(a[ia].mean(0), r[ir].mean(0), a[ia].std(0, ddof=1), r[ir].std(0, ddof=1)))
                for ia, ir in bootstrap
            ]
        )
        alpha = (1 - CI_LEVEL) / 2
        with np.errstate(invalid="ignore"):
            lo, hi = np.nanquantile(boot, [alpha, 1 - alpha], axis=0) if np.isfinite(boot).any() else (None, None)
        if lo is not None:
            for r_, l_, h_, col in zip(rows, lo, hi, boot.T):
                if np.all(np.isfinite(col)) and l_ <= r_["value"] <= h_:
                    r_["ci_low"], r_["ci_high"] = float(l_), float(h_)
    for name, value in curve_summaries(a, r, amplitude).items():
        rows.append(row(f"{p}{name}", np.nan, value, SUMMARY_IDEAL.get(name, 0.0), True, SUMMARY_ASPECT[name]))
        if name == "amplitude":
            err = amplitude_error(a, r)
            rows[-1]["ci_low"], rows[-1]["ci_high"] = value - 1.96 * err, value + 1.96 * err
    return rows


def clopper_pearson(k: int, n: int) -> tuple[float, float]:
    """Exact 95% interval of a binomial fraction k/n."""
    from scipy import stats as sps

    ci = sps.binomtest(k, n).proportion_ci(CI_LEVEL, method="exact")
    return float(ci.low), float(ci.high)


# -- calibration ---------------------------------------------------------------------------------------


def badness(values: np.ndarray, ideal: np.ndarray) -> np.ndarray:
    """|value − ideal|, with NaN (undefined) as worst."""
    out = np.abs(np.asarray(values, dtype=np.float64) - ideal)
    return np.where(np.isnan(out), np.inf, out)


def calibrate(rows: list[dict], null: np.ndarray, alpha: float, one_sided: bool = False) -> list[dict]:
    """Set ``p_value``, ``floor`` and ``flagged`` of the summary rows of ONE verdict from null draws.

    rows: the verdict's summary rows (k); null: (D, k) values of the same statistics in D real-vs-real draws;
    alpha: the verdict's false-positive rate. A single-step max-T test over the k rows: each row's badness
    b = |value − ideal| is studentised by its null median and spread (90th percentile − median), z = (b − med)/s,
    and compared with the distribution of max_j z over the null draws, T_d. A row's ``p_value`` is
    (1 + #{d: T_d ≥ z_j}) / (D + 1), its family-wise adjusted p-value; a row is flagged when it is ≤ alpha, and
    the verdict's p-value is the smallest. Unlike a min-P over rank p-values, this does not saturate: a value
    beyond every draw gets 1/(D + 1) however many rows the verdict has. ``floor`` is the badness a row must
    exceed to be flagged. ``one_sided``: badness is value − ideal (only values above the ideal are bad).
    """
    if not rows:
        return rows
    ideal = np.array([r["ideal"] for r in rows])
    bad = (
        (lambda v: np.nan_to_num(np.asarray(v, np.float64) - ideal, nan=np.inf))
        if one_sided
        else (lambda v: badness(v, ideal))
    )
    b = bad([r["value"] for r in rows])  # (k,)
    nb = bad(null)  # (D, k)
    d = len(nb)
    if d < 1:
        raise ValueError("calibrate needs at least one null draw")
    finite = np.where(np.isfinite(nb), nb, np.nan)
    with np.errstate(invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN rows: undefined in every draw
        med = np.nan_to_num(np.nanmedian(finite, axis=0))
        spread = np.nan_to_num(np.nanquantile(finite, 0.9, axis=0)) - med
    # A row may declare the smallest change it can show (``resolution``: 1/n for a fraction of n maps), so that a
    # statistic that is 0 in most draws is not studentised by a vanishing spread and does not swamp the max-T.
    resolution = np.array([r.get("resolution", 0.0) for r in rows])
    spread = np.maximum(spread, resolution)
    spread = np.where(spread > 0, spread, np.maximum(np.abs(med), 1.0) * 1e-12)
    z = (b - med) / spread
    t_null = np.sort(np.max((nb - med) / spread, axis=1))  # (D,) ascending
    adjusted = (1 + d - np.searchsorted(t_null, z, side="left")) / (d + 1)
    # flagged iff (1 + #{T ≥ z}) / (D + 1) ≤ alpha iff #{T ≥ z} ≤ K iff z > T_(K+1) from the top
    k_allowed = int(np.floor(alpha * (d + 1) + 1e-9)) - 1
    crit = t_null[d - 1 - k_allowed] if 0 <= k_allowed < d else (-np.inf if k_allowed >= d else np.inf)
    for j, r_ in enumerate(rows):
        r_["p_value"] = float(min(adjusted[j], 1.0))
        r_["flagged"] = bool(adjusted[j] <= alpha)
        r_["floor"] = float(med[j] + crit * spread[j]) if np.isfinite(crit) else float(crit)
        r_["one_sided"] = one_sided
    return rows


def min_draws(alpha: float) -> int:
    """Null draws needed before a verdict at rate ``alpha`` can flag anything: p-values are multiples of 1/(D+1)."""
    return int(np.ceil(1.0 / alpha)) - 1


class FeatureMetric:
    """Base for metrics computed from per-map feature curves; subclasses define ``features``.

    ``amplitude``: also fit the amplitude of the generated mean curve relative to the reference's (a
    'mean' summary with its error), meaningful for spectra. ``aspects``: the verdicts its rows feed.
    """

    name = "feature-metric"
    description = ""
    aspects = ("mean", "covariance")
    amplitude = False
    plot_features = True  # per-map feature means go to ctx.curves for the report's plots
    # bins where the reference never varies: a summary row of the fraction of generated maps outside its range
    range_check = True
    # How reports show it (see emubench.contracts.Metric): subclasses name their headline statistics and plots;
    # without them the report takes the first summary row of each aspect and a linear panel per statistic.
    headline: tuple[str, ...] = ()
    plots: tuple = ()
    explain = {
        "mean": "A flag means the generated maps' mean curve differs from the real one by more than two real sets "
        "of n maps differ (χ²/dof, largest deviation in standard errors, RMS log-ratio, amplitude, "
        "maps outside the real range).",
        "covariance": "A flag means the map-to-map scatter or the correlations between bins differ from the real "
        "ones: too little or too much variety, even when the mean is right.",
    }

    def features(self, maps: torch.Tensor, ctx: Context) -> tuple[np.ndarray | dict, dict[str, np.ndarray]]:
        """Return (x (B,), {statistic prefix: (n, B) per-map curve}); x may be a dict {prefix: (B_prefix,)} when
        the curves have bins of their own."""
        raise NotImplementedError

    def compare(self, fg: dict, fr: dict, x: np.ndarray, ctx: Context) -> list[dict]:
        """Observed rows: per-bin rows with bootstrap intervals and the summaries."""
        rng = np.random.default_rng([ctx.seed, 1])
        n_g, n_r = len(next(iter(fg.values()))), len(next(iter(fr.values())))
        boot = [(rng.integers(0, n_g, n_g), rng.integers(0, n_r, n_r)) for _ in range(ctx.bootstrap_draws)]
        rows = []
        for key in fg:
            prefix = f"{key}-" if len(fg) > 1 else ""
            rows += compare_curves(fg[key], fr[key], x_of(x, key), prefix, self.amplitude, boot)
            constant = ~usable_bins(fr[key])
            if self.range_check and constant.any():
                off = outside_reference(fg[key], fr[key], constant)
                rows.append(row(f"{prefix}outside-reference-range", np.nan, off.mean(), 0.0, True, "mean"))
                rows[-1]["ci_low"], rows[-1]["ci_high"] = clopper_pearson(int(off.sum()), len(off))
                rows[-1]["resolution"] = 1.0 / len(off)  # one map
        return rows

    def set_features(self, maps: np.ndarray, label: str, ctx: Context) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """``features`` of one of a score's sets (label "generated", "reference" or "heldout"), computed once per
        score and kept for metrics built on other metrics' features (``joint``): the reference's and the held-out
        set's in ``ctx.cache`` (they do not depend on the model), the generated maps' in ``ctx.scratch``."""
        from ..stats import to_tensor

        store = ctx.scratch if label == "generated" else ctx.cache
        key = (self.name, "features", label)
        if key not in store:
            store[key] = self.features(to_tensor(np.asarray(maps)).to(ctx.device), ctx)
        return store[key]

    def evaluate(self, generated, reference, heldout, ctx: Context) -> MetricResult:
        """Per-map features of the three sets, the comparison rows, each aspect's verdict calibrated on the null
        draws' features, and the curves of every set (with the null's central 95% band)."""
        x, fg = self.set_features(generated, "generated", ctx)
        _, fr = self.set_features(reference, "reference", ctx)
        _, fh = self.set_features(heldout, "heldout", ctx)
        rows = self.compare(fg, fr, x, ctx)
        calibrate_rows(rows, self.null_summaries(fg, fr, ctx), ctx.alpha)
        curves = []
        for label, f in (("generated", fg), ("reference", fr), ("heldout", fh)) if self.plot_features else ():
            for key, v in f.items():
                curves += curve_records(key, label, x_of(x, key), v)
        if self.plot_features:
            curves += self.null_band(x, fr, ctx)
        extras = {"covariance": self.covariance_panels(x, fg, fr, rows, ctx)} if self.covariance_shown else {}
        return MetricResult(rows, curves, extras)

    @property
    def covariance_shown(self) -> bool:
        """Whether the report draws this metric's scatter and bin-to-bin correlations (its covariance verdict)."""
        return self.plot_features and "covariance" in self.aspects

    def covariance_panels(self, x: np.ndarray, fg: dict, fr: dict, rows: list[dict], ctx: Context) -> dict:
        """What the report draws for the covariance verdict, per statistic prefix, over the bins the reference
        varies in: ``x`` (B,), ``std_ratio`` σ_generated/σ_real per bin with ``band_low``/``band_high``, the central
        95% of that ratio over the null draws (real maps only), and ``corr_difference`` (B, B), the generated
        maps' bin-to-bin correlation matrix minus the real maps', with its RMS off the diagonal (``corr_rms``) and
        that row's ``corr_floor`` (the value a perfect emulator stays below at the verdict's rate); ``xlabel`` and
        ``xscale`` from the metric's first declared plot."""
        band = {k: v["std_ratio"] for k, v in self.null_quantiles(fr, ctx).items()}
        summary = {r_["statistic"]: r_ for r_ in rows if r_["summary"]}
        out = {}
        for key in fg:
            prefix = f"{key}-" if len(fg) > 1 else ""
            keep = usable_bins(fr[key])
            a, r = np.asarray(fg[key], np.float64)[:, keep], np.asarray(fr[key], np.float64)[:, keep]
            with np.errstate(divide="ignore", invalid="ignore"):
                ca, cr = np.corrcoef(a, rowvar=False), np.corrcoef(r, rowvar=False)
                ratio = a.std(0, ddof=1) / r.std(0, ddof=1)
            diff = np.clip(np.nan_to_num(np.atleast_2d(ca), nan=0.0), -1, 1) - np.clip(np.atleast_2d(cr), -1, 1)
            out[key] = {
                "x": np.asarray(x_of(x, key))[keep].tolist(),
                "xlabel": self.plots[0].xlabel if self.plots else "bin",
                "xscale": self.plots[0].xscale if self.plots else "linear",
                "std_ratio": ratio.tolist(),
                "band_low": band[key][0].tolist(),
                "band_high": band[key][1].tolist(),
                "corr_difference": diff.tolist(),
                "corr_rms": float(summary.get(f"{prefix}corr-rms-diff", {}).get("value", np.nan)),
                "corr_floor": float(summary.get(f"{prefix}corr-rms-diff", {}).get("floor", np.nan)),
            }
        return out

    def null_quantiles(self, fr: dict, ctx: Context, level: float = 0.95) -> dict[str, dict[str, np.ndarray]]:
        """{prefix: {"mean": (low, high) (B,), "std_ratio": (low, high) (B_usable,)}}: the central ``level`` over the
        null draws of each bin's mean and of σ_draw/σ_reference in the bins the reference varies in. One pass over
        the draws for both; they depend on the reference and the null only, so they are kept in ``ctx.cache``
        (scores of many models against one reference share them)."""
        key = (self.name, "null-quantiles", level)
        if key not in ctx.cache:
            fp, out, q = self.pool_features(ctx), {}, [(1 - level) / 2, (1 + level) / 2]
            m = ctx.null.n
            for stat, r in fr.items():
                keep = usable_bins(r)
                x32 = fp[stat].astype(np.float32)
                xc = fp[stat][:, keep] - fp[stat][:, keep].mean(0)  # centred: float32 products lose nothing
                x1, x2 = xc.astype(np.float32), (xc * xc).astype(np.float32)
                means, var = [], []
                for sel in ctx.null.selections():
                    means.append(sel @ x32 / m)
                    var.append(((sel @ x2) / m - ((sel @ x1) / m).astype(np.float64) ** 2) * m / (m - 1))
                ratio = np.sqrt(np.maximum(np.concatenate(var), 0.0)) / np.asarray(r, np.float64)[:, keep].std(
                    0, ddof=1
                )
                out[stat] = {
                    "mean": tuple(np.quantile(np.concatenate(means), q, axis=0)),
                    "std_ratio": tuple(np.quantile(ratio, q, axis=0)),
                }
            ctx.cache[key] = out
        return ctx.cache[key]

    def null_band(self, x: np.ndarray, fr: dict, ctx: Context) -> list[dict]:
        """The central 95% of each bin's mean curve over the null draws (n real maps each), as curve records of
        sets "null-low" and "null-high": the report's grey band comes from the same null as the floors."""
        out = []
        for key, band in self.null_quantiles(fr, ctx).items():
            for label, q in zip(("null-low", "null-high"), band["mean"]):
                out += [
                    {"statistic": key, "x": float(xi), "set": label, "mean": float(v), "std": float("nan")}
                    for xi, v in zip(x_of(x, key), q)
                ]
        return out

    def pool_features(self, ctx: Context) -> dict[str, np.ndarray]:
        """{statistic prefix: (P, B)} per-map features of the null's pool, computed once per reference and kept in
        ``ctx.cache`` (scores of many models against one reference share them)."""
        from ..stats import to_tensor

        per_map = lambda maps: self.features(to_tensor(np.asarray(maps)).to(ctx.device), ctx)[1]  # noqa: E731
        return ctx.null.features(per_map, ctx.cache, (self.name, "pool"))

    def null_summaries(self, fg: dict, fr: dict, ctx: Context) -> dict[str, np.ndarray]:
        """Every summary statistic in every null draw: {name: (D,)}. The generated maps' features ``fg`` only name
        the keys: the null never sees them."""
        fp = self.pool_features(ctx)
        out: dict[str, np.ndarray] = {}
        for key in fg:
            prefix = f"{key}-" if len(fg) > 1 else ""
            keep = usable_bins(fr[key])
            if self.range_check and not keep.all():  # each draw's fraction of maps outside the reference's range
                off = outside_reference(fp[key], fr[key], ~keep)
                out[prefix + "outside-reference-range"] = off[ctx.null.index].mean(1)
            for name, v in self.null_draw_summaries(fp[key][:, keep], fr[key][:, keep], ctx.null).items():
                out[prefix + name] = v
        return out

    def null_draw_summaries(self, pool: np.ndarray, r: np.ndarray, null: NullDraws) -> dict[str, np.ndarray]:
        """``summaries_from_moments`` of one feature key in every draw: the draw's maps (rows of ``pool``, (P, B))
        against the reference r (n, B)."""
        x = np.asarray(pool, dtype=np.float64)
        # centred and in float32 for the products (half the time of float64; no cancellation once centred)
        shift = x.mean(0)
        xc = (x - shift).astype(np.float32)
        xx = (xc[:, :, None] * xc[:, None, :]).reshape(len(x), -1)
        mr, cr, n_r = moments(r)
        parts: dict[str, list] = {}
        for sel in null.selections():
            ma, ca = subset_moments(sel, xc, xx)
            ma += shift
            for k, v in summaries_from_moments(ma, ca, mr, cr, n_r, self.amplitude).items():
                parts.setdefault(k, []).append(v)
        return {k: np.concatenate(v) for k, v in parts.items()}


def curve_records(statistic: str, label: str, x: np.ndarray, per_map: np.ndarray) -> list[dict]:
    """Curve records (``emubench.contracts.CURVE_FIELDS``) of one set: mean and std over maps of (n, B) at x (B,)."""
    return [
        {"statistic": statistic, "x": float(xi), "set": label, "mean": float(m), "std": float(s)}
        for xi, m, s in zip(x, per_map.mean(0), per_map.std(0, ddof=1))
    ]


def x_of(x: np.ndarray | dict, key: str) -> np.ndarray:
    """The bins of feature ``key``: ``FeatureMetric.features``' x, shared by every key or given per key."""
    return x[key] if isinstance(x, dict) else x


def calibrate_rows(rows: list[dict], null: dict[str, np.ndarray], alpha: float) -> list[dict]:
    """``calibrate`` each aspect's summary rows against the same statistics (by name) in ``null`` ({name: (D,)})."""
    by_aspect: dict[str, list[dict]] = {}
    for r_ in rows:
        if r_["summary"]:
            by_aspect.setdefault(r_["aspect"], []).append(r_)
    for group in by_aspect.values():
        calibrate(group, np.stack([null[r_["statistic"]] for r_ in group], axis=1), alpha)
    return rows
