"""Measure what the verdicts promise, on a dataset with a generator.

- ``false_positive_rates``: perfect emulators (the test split of the same dataset made with other seeds, as
  ``emubench data export DATASET -D seed=S --split test`` writes it) scored against the dataset's own
  reference: how often each verdict, and the whole score, flags them. It should be at most the stated rates.
- ``sensitivity``: the same perfect emulators with a planted flaw of growing size (κ amplitude, Gaussian
  smoothing, white noise, variance about each map's mean, Fourier phases partly randomised, small scales swapped
  between maps; and, for memorisation, a growing fraction of whole copies, patchworks and pasted crops of
  training maps): the smallest flaw each verdict flags on every basis, and any larger flaw it passes after
  flagging a smaller one (``emubench power``; there should be none).
- ``cosmology_false_positive_rates``: for a dataset of several cosmologies, perfect conditional emulators
  (the dataset's generator with other seeds, at each cosmology) scored at every cosmology.

Both score many emulators against one reference, so what does not depend on the emulator (the fresh pool
and its statistics, the held-out neighbour distances) is computed once and shared (``score(cache=...)``).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import pandas as pd

from .data import open_dataset, split, split_indices
from .errors import EmubenchError
from .scoring import ALPHA, score, verdicts
from .settings import ScoreSettings


def perfect_maps(dataset: str, options: dict, seed: int, n: int, split_seed: int = 0) -> np.ndarray:
    """n maps of a perfect emulator: the test split of ``dataset`` generated with ``seed`` (κ, (n, H, W)),
    made in memory (not written to the dataset cache)."""
    from .registry import get

    ds = get("datasets", dataset)(**{**options, "seed": seed})
    maps = ds.generate_maps() if hasattr(ds, "generate_maps") else ds.load().maps
    test = split_indices(len(maps), split_seed)["test"]
    if len(test) < n:
        raise EmubenchError(f"a perfect emulator of {dataset} has {len(test)} test maps, fewer than n={n}")
    return np.asarray(maps[test[:n]], dtype=np.float32)


def _reference(dataset: str, options: dict, split_seed: int, seeds: list[int]):
    """The splits of ``dataset`` that emulators of dataset seeds ``seeds`` are scored against. A seed equal to
    the reference's own would give its maps (and null pools) back, not new ones: refused."""
    own = int(options.get("seed", 0))
    if own in seeds:
        raise EmubenchError(f"emulator seed {own} is the reference's own dataset seed")
    mapset = open_dataset(dataset, **options)
    if mapset.fresh is None:
        raise EmubenchError(f"dataset {dataset!r} has no generator: perfect emulators cannot be made for it")
    return split(mapset, split_seed)


def false_positive_rates(
    dataset: str,
    seeds: list[int],
    settings: ScoreSettings | None = None,
    *,
    options: dict | None = None,
    split_seed: int = 0,
    log: Callable[[str], None] | None = None,
    **kw,
) -> pd.DataFrame:
    """Verdicts of perfect emulators: one row per (emulator seed, metric, aspect) with verdict and p-value.

    The reference is ``dataset`` with its own options (seed included); emulator seeds must differ from it.
    ``settings`` (or its fields as keywords) are those of each score; no bootstrap unless asked."""
    settings = ScoreSettings.of(settings or ScoreSettings(bootstrap_draws=0), **kw)
    options = dict(options or {})
    splits = _reference(dataset, options, split_seed, seeds)
    settings = settings.replace(n=int(settings.n or len(splits["val"])))
    cache: dict = {}
    out = []
    if log:  # the first emulator also computes the null pool's statistics, once for all
        log(f"{len(seeds)} perfect emulators of {dataset}, {settings.n} maps each, against its validation split")
    for k, s in enumerate(seeds, 1):
        maps = perfect_maps(dataset, options, s, settings.n, split_seed)
        df, _ = score(maps, splits, settings, cache=cache, model=f"perfect-{s}")
        v = verdicts(df).assign(emulator_seed=s)
        out.append(v)
        if log:
            flagged = int((v.verdict == "flag").sum())
            log(f"perfect emulator {k} of {len(seeds)} (seed {s}): {flagged} of {len(v)} verdicts flagged")
    return pd.concat(out, ignore_index=True)


def rate_table(v: pd.DataFrame, alpha: float = ALPHA) -> pd.DataFrame:
    """Measured false-positive rate per verdict and for the whole score, beside the stated one."""
    n_em = v.emulator_seed.nunique()
    n_verdicts = v.groupby("emulator_seed").size().iloc[0]
    rows = [
        {
            "verdict": f"{m}/{a}",
            "flagged": int((g.verdict == "flag").sum()),
            "emulators": n_em,
            "stated": alpha / n_verdicts,
        }
        for (m, a), g in v.groupby(["metric", "aspect"], sort=False)
    ]
    anyflag = v.groupby("emulator_seed").verdict.apply(lambda x: (x == "flag").any())
    rows.append({"verdict": "any (whole score)", "flagged": int(anyflag.sum()), "emulators": n_em, "stated": alpha})
    t = pd.DataFrame(rows)
    t["measured"] = t.flagged / t.emulators
    return t[["verdict", "flagged", "emulators", "measured", "stated"]]


# -- planted flaws ------------------------------------------------------------------------------------


def amplitude(maps: np.ndarray, level: float, rng: np.random.Generator) -> np.ndarray:
    """κ scaled by (1 + level): an amplitude error (C_ℓ by (1 + level)², roughly σ8 by 1 + level)."""
    return maps * np.float32(1 + level)


def smoothing(maps: np.ndarray, level: float, rng: np.random.Generator) -> np.ndarray:
    """A Gaussian beam of standard deviation ``level`` pixels (periodic, by FFT): missing small-scale power."""
    n = maps.shape[-1]
    k = np.fft.fftfreq(n) * 2 * np.pi
    beam = np.exp(-0.5 * level**2 * (k[:, None] ** 2 + k[None, :] ** 2))
    return np.fft.ifft2(np.fft.fft2(maps) * beam).real.astype(np.float32)


def white_noise(maps: np.ndarray, level: float, rng: np.random.Generator) -> np.ndarray:
    """Added white noise of standard deviation ``level`` × σ_κ of the maps."""
    return (maps + rng.standard_normal(maps.shape) * (level * maps.std())).astype(np.float32)


def variance(maps: np.ndarray, level: float, rng: np.random.Generator) -> np.ndarray:
    """Each map's fluctuations about its own mean scaled by (1 + level): its pixel variance by (1 + level)², its
    mean (the mode larger than the map) kept."""
    mean = maps.mean(axis=(-2, -1), keepdims=True)
    return (mean + (maps - mean) * np.float32(1 + level)).astype(np.float32)


def phases(maps: np.ndarray, level: float, rng: np.random.Generator) -> np.ndarray:
    """Fourier phases partly randomised: each mode's phase θ(k) becomes θ(k) + level·φ(k), φ the phases of a
    white-noise map (odd in k, so the map stays real). |F(k)| is kept, so every map's power spectrum is exactly
    unchanged; at level 1 the map is Gaussian. The non-Gaussian information (PDF, peaks, minima, MFs) goes."""
    f = np.fft.fft2(maps)
    phi = np.angle(np.fft.fft2(rng.standard_normal(maps.shape)))
    n = maps.shape[-1]
    real = [0, n // 2] if n % 2 == 0 else [0]  # modes equal to their own mirror −k carry a real F: left alone
    phi[..., np.ix_(real, real)[0], np.ix_(real, real)[1]] = 0.0
    return np.fft.ifft2(f * np.exp(1j * level * phi)).real.astype(np.float32)


def scale_swap(maps: np.ndarray, level: float, rng: np.random.Generator) -> np.ndarray:
    """A fraction ``level`` of the maps get their small scales (Fourier modes of wavelength under 6.7 px,
    |k| > 0.15 cycles per pixel) from another of those maps: each scale's power and every map's large scales stay
    real, what ties a map's small scales to its large ones (in κ: peaks sit on overdensities) goes. The cross-
    statistic flaw of ``joint``; in a lognormal field the ties are strong enough that every statistic sees it."""
    n = maps.shape[-1]
    k = np.fft.fftfreq(n)
    small = np.hypot(k[:, None], k[None, :]) > 0.15
    which = _replaced(maps, level, rng)
    donors = which[np.roll(np.arange(len(which)), 1)]  # each map's small scales from the next one picked
    f = np.fft.fft2(maps[which])
    f[:, small] = np.fft.fft2(maps[donors])[:, small]
    out = maps.copy()
    out[which] = np.fft.ifft2(f).real.astype(np.float32)
    return out


FLAWS = {
    "amplitude": (amplitude, "κ amplitude error (fraction)", [0.001, 0.0025, 0.005, 0.01, 0.02, 0.05, 0.1]),
    "smoothing": (smoothing, "Gaussian smoothing σ (pixels)", [0.05, 0.1, 0.2, 0.3, 0.5, 1.0, 2.0]),
    "white-noise": (white_noise, "white noise σ (units of σ_κ)", [0.003, 0.01, 0.03, 0.1, 0.3, 1.0, 3.0]),
    "variance": (
        variance,
        "fluctuations about each map's mean scaled by 1 + ε",
        [0.0025, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2],
    ),
    "phases": (
        phases,
        "Fourier phases randomised by a fraction (C_ℓ unchanged)",
        [0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0],
    ),
    "scale-swap": (
        scale_swap,
        "fraction of maps with the small scales of another map",
        [0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0],
    ),
}


def _copies_of(train: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    """k training maps (k, n, n), each shifted cyclically by a random offset and under a random symmetry."""
    from .stats import symmetry

    n = train.shape[-1]
    picked = train[np.sort(rng.choice(len(train), k, replace=k > len(train)))]
    return np.stack([symmetry(np.roll(m, tuple(rng.integers(0, n, 2)), axis=(0, 1)), rng.integers(8)) for m in picked])


def _replaced(maps: np.ndarray, level: float, rng: np.random.Generator) -> np.ndarray:
    """Which maps a copy flaw of size ``level`` (a fraction of the maps) replaces: round(level · N), at least 1."""
    return np.sort(rng.choice(len(maps), max(1, round(level * len(maps))), replace=False))


def whole_copies(maps: np.ndarray, level: float, rng: np.random.Generator, train: np.ndarray) -> np.ndarray:
    """A fraction ``level`` of the maps replaced by training maps, moved (``_copies_of``), with white noise of
    0.5 σ_κ."""
    out, which = maps.copy(), _replaced(maps, level, rng)
    copies = _copies_of(train, len(which), rng)
    out[which] = copies + (0.5 * maps.std()) * rng.standard_normal(copies.shape).astype(np.float32)
    return out


def patchworks(maps: np.ndarray, level: float, rng: np.random.Generator, train: np.ndarray) -> np.ndarray:
    """A fraction ``level`` of the maps replaced by maps stitched from the quadrants of four moved training maps."""
    out, which = maps.copy(), _replaced(maps, level, rng)
    h = maps.shape[-1] // 2
    for i in which:
        quarters = _copies_of(train, 4, rng)
        for q, (a, b) in zip(quarters, ((0, 0), (0, h), (h, 0), (h, h))):
            out[i, a : a + h, b : b + h] = q[a : a + h, b : b + h]
    return out


def pasted_crops(maps: np.ndarray, level: float, rng: np.random.Generator, train: np.ndarray) -> np.ndarray:
    """A fraction ``level`` of the maps each get one (n/2)² crop of a moved training map pasted at a random place
    (a quarter of the map copied, three quarters its own)."""
    out, which = maps.copy(), _replaced(maps, level, rng)
    h = maps.shape[-1] // 2
    for i, crop in zip(which, _copies_of(train, len(which), rng)[:, :h, :h]):
        y, x = rng.integers(0, h + 1, 2)
        out[i, y : y + h, x : x + h] = crop
    return out


_COPY_LEVELS = [0.0025, 0.005, 0.01, 0.02, 0.05, 0.1]
COPY_FLAWS = {  # what memorisation looks for (the distributional metrics are not asked: copies are real maps)
    "whole-copies": (whole_copies, "fraction of maps: moved training maps + 0.5 σ_κ noise", _COPY_LEVELS),
    "patchworks": (patchworks, "fraction of maps: quadrants of 4 moved training maps", _COPY_LEVELS),
    "pasted-crops": (pasted_crops, "fraction of maps with a pasted (n/2)² training crop", _COPY_LEVELS),
}


def smallest_text(r) -> str:
    """A ``sensitivity`` row's smallest flagged level as read: '≤ x' at the smallest level tried, '> x' if none,
    and the larger levels it passed on some basis after flagging a smaller one, if any ('0.03, passes 1')."""
    if not math.isfinite(r.smallest_flagged):
        text = f"> {r.largest_tested:g}"
    else:
        text = f"≤ {r.smallest_flagged:g}" if r.smallest_flagged <= r.smallest_tested else f"{r.smallest_flagged:g}"
    passed = getattr(r, "passed_above", "")
    return f"{text}, passes {passed}" if isinstance(passed, str) and passed else text


def passes_after_flag(table: pd.DataFrame) -> pd.DataFrame:
    """Rows of a ``sensitivity`` table where a verdict passed a flaw on a basis at a level above one it flagged
    on the same basis (power that falls as the flaw grows): flaw, metric, aspect, basis, level, flagged_at."""
    out = []
    for (flaw, metric, aspect, basis), g in table.groupby(["flaw", "metric", "aspect", "basis"], sort=False):
        g = g.sort_values("level")
        flagged = g.loc[g.verdict == "flag", "level"]
        if not len(flagged):
            continue
        for r in g[(g.verdict == "pass") & (g.level > flagged.min())].itertuples():
            out.append(
                {"flaw": flaw, "metric": metric, "aspect": aspect, "basis": basis, "level": r.level,
                 "flagged_at": float(flagged[flagged < r.level].max())}
            )  # fmt: skip
    return pd.DataFrame(out, columns=["flaw", "metric", "aspect", "basis", "level", "flagged_at"])


def sensitivity(
    dataset: str,
    seeds: list[int],
    settings: ScoreSettings | None = None,
    *,
    options: dict | None = None,
    flaws: dict | None = None,
    split_seed: int = 0,
    log: Callable[[str], None] | None = None,
    **kw,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(every verdict at every flaw level and basis, smallest level each verdict flags on every basis).

    ``flaws``: by default ``FLAWS`` (scored by the score's distributional metrics) and ``COPY_FLAWS`` (scored by
    memorisation, given the training maps). The score's metrics are ``settings.metrics``, or the dataset's default
    ones; every verdict is judged at the rate such a score gives it: alpha split over all their verdicts."""
    settings = ScoreSettings.of(settings or ScoreSettings(bootstrap_draws=0), **kw)
    options = dict(options or {})
    flaws = flaws or {**FLAWS, **COPY_FLAWS}
    splits = _reference(dataset, options, split_seed, seeds)
    train = np.asarray(splits["train"].get(slice(0, len(splits["train"]))), dtype=np.float32)
    from .registry import get
    from .scoring import declared_aspects, default_metrics

    def verdicts_of(names) -> int:
        return sum(len(declared_aspects(get("metrics", m)())) for m in names)

    whole = list(settings.metrics or default_metrics(splits))
    per_verdict = settings.alpha / verdicts_of(whole)
    settings = settings.replace(n=int(settings.n or len(splits["val"])))
    distributional = tuple(m for m in whole if m != "memorisation")
    if "memorisation" not in whole:  # copies are planted for memorisation alone
        flaws = {k: v for k, v in flaws.items() if k not in COPY_FLAWS}
    cache: dict = {}
    bases = {s: perfect_maps(dataset, options, s, settings.n, split_seed) for s in seeds}
    rows = []
    steps, step = sum(len(levels) for _, _, levels in flaws.values()), 0
    if log:
        basis = "basis" if len(bases) == 1 else "bases"
        log(f"{steps} (flaw, size) pairs on {len(bases)} {basis} of {settings.n} maps; the first computes the null too")
    for flaw, (fn, _, levels) in flaws.items():
        copies = flaw in COPY_FLAWS
        metrics = ("memorisation",) if copies else distributional
        run = settings.replace(metrics=metrics, alpha=per_verdict * verdicts_of(metrics))
        for level in levels:
            for s, maps in bases.items():
                rng = np.random.default_rng([s, 7])
                planted = fn(maps, level, rng, train) if copies else fn(maps, level, rng)
                df, _ = score(planted, splits, run, cache=cache, model=f"{flaw}-{level}-{s}")
                for r in verdicts(df).itertuples():
                    rows.append(
                        {
                            "flaw": flaw,
                            "level": level,
                            "basis": s,
                            "metric": r.metric,
                            "aspect": r.aspect,
                            "verdict": r.verdict,
                            "p_value": r.p_value,
                        }
                    )
            step += 1
            if log:
                log(f"{flaw} {level} ({step} of {steps}): done")
    table = pd.DataFrame(rows)
    falls = passes_after_flag(table)
    smallest = []
    for (flaw, metric, aspect), g in table.groupby(["flaw", "metric", "aspect"], sort=False):
        every = g.groupby("level").verdict.apply(lambda x: (x == "flag").all())
        caught = every[every].index
        fell = falls[(falls.flaw == flaw) & (falls.metric == metric) & (falls.aspect == aspect)]
        smallest.append(
            {
                "flaw": flaw,
                "metric": metric,
                "aspect": aspect,
                "smallest_flagged": float(caught.min()) if len(caught) else math.inf,
                "smallest_tested": float(every.index.min()),
                "largest_tested": float(every.index.max()),
                "passed_above": ", ".join(f"{x:g}" for x in sorted(set(fell.level))),
            }
        )
    return table, pd.DataFrame(smallest)


class PerfectConditional:
    """A perfect emulator of a dataset of several cosmologies: new maps from the dataset's own generator at the
    asked parameters, from a dataset seed of its own (never the dataset's maps, nor its null pools)."""

    def __init__(self, dataset: str, options: dict, seed: int):
        from .registry import get

        self.dataset = get("datasets", dataset)(**{**options, "seed": seed})
        if not hasattr(self.dataset, "fresh") or not getattr(self.dataset, "param_names", ()):
            raise EmubenchError(f"dataset {dataset!r}: no generator of maps at given parameters")
        self.parameters = tuple(getattr(self.dataset, "param_names", ()))

    def sample(self, n: int, *, seed: int, device: str = "cpu", params=None) -> np.ndarray:
        return self.dataset.fresh(n, seed, params=params)


def cosmology_false_positive_rates(
    dataset: str,
    seeds: list[int],
    settings: ScoreSettings | None = None,
    *,
    options: dict | None = None,
    split_seed: int = 0,
    cosmologies: np.ndarray | None = None,
    log: Callable[[str], None] | None = None,
    **kw,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Perfect conditional emulators (``PerfectConditional`` with each of ``seeds``) scored at every cosmology.

    Returns (verdicts at each cosmology: emulator, parameters, cosmology group, metric, aspect, verdict,
    p_value; the summary verdicts across cosmologies of each emulator). The first should flag each verdict at
    one cosmology at most at its rate (alpha / verdicts), the second any verdict at most at ``alpha``."""
    from .scoring import across_cosmologies, cosmology_verdicts, score_cosmologies

    settings = ScoreSettings.of(settings or ScoreSettings(bootstrap_draws=0), **kw)
    options = dict(options or {})
    splits = _reference(dataset, options, split_seed, seeds)
    names = list(splits["val"].param_names)
    shared: dict = {}
    per, summaries = [], []
    if log:
        log(f"{len(seeds)} perfect conditional emulators of {dataset}, scored at each of its cosmologies")
    for k, s in enumerate(seeds, 1):
        model = PerfectConditional(dataset, options, s)
        sample = lambda k, seed, theta, model=model: model.sample(k, seed=seed, params=theta)  # noqa: E731
        scores, _, _ = score_cosmologies(
            sample, splits, settings, model=f"perfect-{s}", cosmologies=cosmologies, shared=shared
        )
        v = cosmology_verdicts(scores, names).assign(emulator=s)
        per.append(v)
        summaries.append(across_cosmologies(v, names, settings.alpha).assign(emulator=s))
        if log:
            flagged = int((v["verdict"] == "flag").sum())
            log(f"perfect emulator {k} of {len(seeds)} (seed {s}): {flagged} of {len(v)} verdicts flagged")
    return pd.concat(per, ignore_index=True), pd.concat(summaries, ignore_index=True)


def cosmology_rate_table(per: pd.DataFrame, summaries: pd.DataFrame, alpha: float = ALPHA) -> pd.DataFrame:
    """Measured false-positive rates of ``cosmology_false_positive_rates``: each verdict at one cosmology (over
    emulators × cosmologies, stated alpha / verdicts), each summary verdict across the cosmologies of a group
    (over emulators, stated alpha / (verdicts · groups)), and any summary flag (stated alpha)."""
    n_verdicts = per.groupby(["metric", "aspect"]).ngroups
    groups = per["cosmology"].nunique()
    n_em = per["emulator"].nunique()
    rows = [
        {"verdict": f"{m}/{a} at one cosmology", "flagged": int((g.verdict == "flag").sum()), "scores": len(g),
         "stated": alpha / n_verdicts}
        for (m, a), g in per.groupby(["metric", "aspect"], sort=False)
    ]  # fmt: skip
    rows += [
        {"verdict": f"{m}/{a} across {c} cosmologies", "flagged": int((g.verdict == "flag").sum()), "scores": len(g),
         "stated": alpha / (n_verdicts * groups)}
        for (c, m, a), g in summaries.groupby(["cosmology", "metric", "aspect"], sort=False)
    ]  # fmt: skip
    anyflag = summaries.groupby("emulator").verdict.apply(lambda x: (x == "flag").any())
    rows.append({"verdict": "any summary", "flagged": int(anyflag.sum()), "scores": n_em, "stated": alpha})
    t = pd.DataFrame(rows)
    t["measured"] = t.flagged / t.scores
    return t[["verdict", "flagged", "scores", "measured", "stated"]]
