"""The plugin contracts: one ``typing.Protocol`` per kind of plugin object, the single source of truth.

Every registered object is a **class** with a ``name`` (lowercase words joined by hyphens) and a
``description``; the registry checks the members below when a plugin registers it (``missing_members``), and
docs/plugins.md documents each one (a test checks that it does). Units: maps are κ, float32, shape (n, H, W);
``side_deg`` is the map side in degrees.

- ``Dataset``: options in, a ``MapSet`` out; a ``GeneratorDataset`` also makes new maps (fresh nulls,
  perfect emulators).
- ``Model``: a training-free emulator, fitted on a training split in seconds.
- ``TrainedModel``: an emulator rebuilt from a run folder written by its ``Trainer``.
- ``Trainer``: trains the models named in its ``models`` into a run folder (``emubench.RunFolder``).
- ``Metric``: compares generated with real maps; returns a ``MetricResult``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, runtime_checkable

if TYPE_CHECKING:
    import numpy as np

    from .data.base import MapSet
    from .metrics.base import Context

# The record format of a curve (one point of one set of a statistic), as the report plots it.
CURVE_FIELDS: dict[str, str] = {
    "statistic": "name of the curve, e.g. 'C_ell' or 'V0'",
    "x": "abscissa: ℓ for spectra, ν (thresholds in units of the reference σ) for Minkowski functionals and peaks",
    "set": "'generated', 'reference' (validation split) or 'heldout' (test split)",
    "mean": "mean over the set's maps at x",
    "std": "standard deviation over the set's maps at x (NaN if none)",
}


@dataclass
class MetricResult:
    """What ``Metric.evaluate`` returns.

    rows: result rows (``emubench.metrics.base.row`` makes one; keys: statistic, aspect, bin, value, ideal,
    summary, floor, p_value, flagged, ci_low, ci_high). curves: records with the keys of ``CURVE_FIELDS`` for
    the report's plots (the harness adds ``metric``); none is fine. extras: anything the report shows besides
    (the memorisation check's closest pairs), JSON-able or numpy arrays.
    """

    rows: list[dict[str, Any]]
    curves: list[dict[str, Any]] = field(default_factory=list)
    extras: dict[str, Any] = field(default_factory=dict)


PIXEL_UNITS = ("per pixel", "per pixel²", "per map")


@dataclass(frozen=True)
class Plot:
    """How a metric's curves are drawn in reports: one figure with a panel per statistic in ``statistics``.

    Each panel shows every set of the statistic's curve records (reference solid black, held-out dotted black,
    each model in colour) and the real-vs-real band: the reference mean ± 2σ of the difference of two real
    sets' means (√2·std/√n). Axis ranges follow the data.

    title: the figure's title.  statistics: curve names (the ``statistic`` of curve records), one panel each.
    xlabel, ylabel: axis labels with units.  xscale, yscale: "linear", "log" or "symlog" (a log axis leaves out
    points ≤ 0).  y: what is drawn, "mean" (the curve as recorded) or "ell2" (ℓ(ℓ+1)·mean/2π, for spectra).
    ratio: add a panel under each with generated / reference, on an axis that follows the data.
    units: (statistic, unit) pairs for curves recorded in pixel units and drawn in degrees (the ylabel names the
    drawn unit): "per pixel" (a density per pixel length, × npix/side_deg: per degree), "per pixel²" (× (npix /
    side_deg)²: per deg²) or "per map" (a count per map, ÷ side_deg²: per deg²). Only the drawing changes: the
    scores, which compare sets of one geometry, are the same in any unit.
    """

    title: str
    statistics: tuple[str, ...]
    xlabel: str = "x"
    ylabel: str = ""
    xscale: str = "linear"
    yscale: str = "linear"
    y: str = "mean"
    ratio: bool = False
    units: tuple[tuple[str, str], ...] = ()

    def __post_init__(self) -> None:
        scales = ("linear", "log", "symlog")
        if self.xscale not in scales or self.yscale not in scales or self.y not in ("mean", "ell2"):
            raise ValueError(f"Plot {self.title!r}: scales must be one of {scales} and y 'mean' or 'ell2'")
        object.__setattr__(self, "statistics", tuple(self.statistics))
        object.__setattr__(self, "units", tuple((str(s), str(u)) for s, u in self.units))  # JSON gives lists
        for _, unit in self.units:
            if unit not in PIXEL_UNITS:
                raise ValueError(f"Plot {self.title!r}: unit {unit!r} is not one of {PIXEL_UNITS}")

    def in_degrees(self, statistic: str, side_deg: float, npix: int) -> float:
        """The factor that turns ``statistic``'s recorded values into the units drawn (1 if it has none)."""
        unit = dict(self.units).get(statistic)
        per_degree = npix / side_deg  # pixels per degree
        return {"per pixel": per_degree, "per pixel²": per_degree**2, "per map": 1.0 / side_deg**2}.get(unit, 1.0)


@runtime_checkable
class Dataset(Protocol):
    """A dataset plugin. ``__init__(**options)`` is cheap and refuses unknown or invalid options with an
    ``EmubenchError`` (options come from ``-D key=value``, ``--data PATH`` as ``path=``, ``--side-deg`` as
    ``side_deg=``); ``load()`` returns the maps."""

    name: ClassVar[str]
    description: ClassVar[str]

    def load(self) -> MapSet:
        """The maps as a ``MapSet``: (N, H, W) float32 κ with O(1) random access (a memmap is ideal),
        ``side_deg`` in degrees, and ``meta`` ({"dataset": name, "options": {...}} or {"files": [...]}) so that
        a run can reopen the same data."""
        ...


@runtime_checkable
class GeneratorDataset(Protocol):
    """A ``Dataset`` whose maps come from a generator (as the embedded ones do), with two more members: it can
    make maps that no split holds, which the null of every score is drawn from (``--null fresh``), and it can
    make the whole dataset again with another ``seed`` option, which ``emubench calibrate`` and ``emubench
    power`` score as perfect emulators. ``load()`` passes ``fresh`` to its ``MapSet``."""

    def generate_maps(self) -> np.ndarray:
        """All the dataset's maps, (N, H, W) float32 κ, made in memory (not read from or written to a cache)."""
        ...

    def fresh(self, n_maps: int, seed: int = 0) -> np.ndarray:
        """``n_maps`` new maps (n_maps, H, W) of the dataset's distribution, deterministic in ``seed`` and never
        among its own maps (another stream than any dataset ``seed`` gives). A dataset of several cosmologies
        takes the cosmology as a keyword, ``fresh(n_maps, seed, *, params=(omega_m, sigma8))``."""
        ...


@runtime_checkable
class Model(Protocol):
    """A training-free emulator: ``emubench score --model NAME`` fits it on the training split.

    Optional: ``n_parameters`` (int), the number of values the fitted model holds (a network's weights, a
    fitted spectrum's bins, a memoriser's stored pixels); reports and the leaderboard show it as its size, "—"
    without it. ``sampling`` (str), how maps are drawn where their cost depends on it (a diffusion model's
    sampler and steps, "DDIM, 50 steps"), shown beside the sampling time. The same holds for a ``TrainedModel``.
    """

    name: ClassVar[str]
    description: ClassVar[str]

    @classmethod
    def fit(cls, train: MapSet, *, seed: int = 0) -> Model:
        """An instance fitted on the training split ``train``, in seconds."""
        ...

    def sample(self, n: int, *, seed: int, device: str = "cpu", params: np.ndarray | None = None) -> np.ndarray:
        """``n`` maps (n, H, W), float32, in κ (any training-time transform undone), deterministic in ``seed``.

        A model conditioned on cosmology has an attribute ``parameters`` (the names, e.g. ("omega_m",
        "sigma8"), set by ``fit`` when the training maps carry parameters) and takes ``params``: one parameter
        vector (P,) for all n maps, or one per map (n, P). The harness passes ``params`` only to a model whose
        ``parameters`` is non-empty, so an unconditional model may leave it out of its signature."""
        ...


@runtime_checkable
class TrainedModel(Protocol):
    """An emulator trained by a ``Trainer``: ``emubench score --model RUN_FOLDER`` rebuilds it."""

    name: ClassVar[str]
    description: ClassVar[str]

    @classmethod
    def from_run(
        cls, run_dir: Path, manifest: dict[str, Any], *, checkpoint: str | None = None, device: str = "cpu"
    ) -> TrainedModel:
        """The model of run folder ``run_dir`` (``emubench.RunFolder.open(run_dir)`` gives its checkpoints);
        ``manifest`` is its validated manifest; ``checkpoint``: a checkpoint name (default: best, else latest)."""
        ...

    def sample(self, n: int, *, seed: int, device: str = "cpu") -> np.ndarray:
        """``n`` maps (n, H, W), float32, in κ, deterministic in ``seed``."""
        ...


@dataclass(frozen=True)
class TrainRequest:
    """What ``emubench train`` asks of a trainer, as one value.

    model: the registered model to train.  splits: the "train", "val" and "test" MapSets of ``mapset``, split
    with ``split_seed`` (train on ``splits["train"]``; validate on ``splits["val"]``).  config: the trainer's
    own config, from its ``make_config``.  out: the run folder to write (or to continue when ``resume``).
    device: "cpu", "cuda" or "cuda:N".  quiet: no progress output (no bar, no log lines)."""

    model: str
    splits: dict[str, MapSet]
    mapset: MapSet
    split_seed: int
    config: dict[str, Any]
    out: Path
    resume: bool = False
    device: str = "cpu"
    quiet: bool = False


@runtime_checkable
class Trainer(Protocol):
    """Trains the models named in ``models``: ``emubench train MODEL`` picks the trainer whose ``models`` holds it."""

    name: ClassVar[str]
    description: ClassVar[str]
    models: ClassVar[tuple[str, ...]]
    presets: ClassVar[Mapping[str, Any]]
    default_preset: ClassVar[str]

    def make_config(self, preset: str | None, overrides: dict[str, Any]) -> dict[str, Any]:
        """The preset (default: ``default_preset``) with ``overrides`` applied: a JSON-able dict. Overrides come
        from ``--epochs``, ``--max-steps``, ``--batch-size``, ``--seed`` (only when given) and ``-c key=value``
        (values parsed as JSON: numbers arrive as numbers). An unknown preset or key, or a bad value, raises an
        ``EmubenchError`` before any work starts. A ``dataset`` key names the preset's default dataset."""
        ...

    def train(self, request: TrainRequest) -> Path:
        """Train ``request.model`` as ``request`` says (see ``TrainRequest``): write the run folder
        ``request.out`` with ``emubench.RunFolder`` (or continue it when ``request.resume``) and return its path.
        (Trainers written before 1.0 take the request's fields as keywords instead: ``emubench.compat``.)"""
        ...


@runtime_checkable
class Metric(Protocol):
    """Compares generated with real maps. ``aspects`` names the verdicts its rows feed (e.g. ("mean",
    "covariance")): a score splits its false-positive rate evenly over the verdicts of all its metrics.

    How reports show it (all optional): ``headline``, the summary statistics of its leaderboard columns and
    verdict cards (default: the first summary row of each aspect); ``plots``, how its curves are drawn
    (default: one linear panel per curve statistic); ``explain``, one sentence per aspect saying what a flag
    means, printed on the verdict card; ``disqualifies`` (bool), a flag means the model copies its training
    maps and is listed apart, unranked; ``reach`` ({statistic: phrase with "{percent}"}), the reach the metric
    measures itself at the score's n. The report code names no metric (a test checks it).

    A class attribute ``needs_parameters = True`` (not a member of the protocol: absent means False) says the
    metric needs training maps at several cosmologies (``ctx.train.params``), like ``parameter-bias``; scores
    of data at one cosmology leave it out. ``default = False`` (absent means True) makes a metric opt-in: scored
    only when named (``--metric``), so that registering it does not change the verdicts, and so the rates, of
    every default score."""

    name: ClassVar[str]
    description: ClassVar[str]
    aspects: ClassVar[tuple[str, ...]]
    headline: ClassVar[tuple[str, ...]]
    plots: ClassVar[tuple[Plot, ...]]
    explain: ClassVar[Mapping[str, str]]

    def evaluate(self, generated: np.ndarray, reference: np.ndarray, heldout: np.ndarray, ctx: Context) -> MetricResult:
        """``generated``, ``reference`` (validation split) and ``heldout`` (test split): (n, H, W) float32 κ, equal
        n. ``ctx``: an ``emubench.Context`` (geometry, the null draws, alpha per verdict, a cache). Returns a
        ``MetricResult``; a plain list of rows is accepted too (curves then come from ``ctx.curves``)."""
        ...


# Which protocol(s) a registered object of each registry kind must satisfy (a model: either of the two).
KIND_PROTOCOLS: dict[str, tuple[type, ...]] = {
    "datasets": (Dataset,),
    "models": (Model, TrainedModel),
    "trainers": (Trainer,),
    "metrics": (Metric,),
}


def protocol_members(protocol: type) -> list[str]:
    """The members a protocol asks for (attributes and methods), in definition order."""
    names = [n for n in getattr(protocol, "__annotations__", {})]
    names += [
        n for n, v in vars(protocol).items() if not n.startswith("_") and (callable(v) or isinstance(v, classmethod))
    ]
    return list(dict.fromkeys(names))


def signature_text(protocol: type, member: str) -> str:
    """How docs/plugins.md writes a member: ``name: type`` for an attribute, ``name(params) -> type`` for a
    method (without self/cls; ``@classmethod`` in front of a class method)."""
    import inspect

    value = inspect.getattr_static(protocol, member, None)
    if value is None:
        annotation = str(protocol.__annotations__[member])
        if annotation.startswith("ClassVar[") and annotation.endswith("]"):
            annotation = annotation[len("ClassVar[") : -1]
        return f"{member}: {annotation}"
    func = value.__func__ if isinstance(value, classmethod) else value
    parts, star = [], False
    for p in inspect.signature(func).parameters.values():
        if p.name in ("self", "cls"):
            continue
        if p.kind is p.KEYWORD_ONLY and not star:
            parts.append("*")
            star = True
        text = p.name + (f": {p.annotation}" if p.annotation is not p.empty else "")
        if p.default is not p.empty:
            text += f" = {p.default!r}"
        parts.append(text)
    returns = inspect.signature(func).return_annotation
    text = f"{member}({', '.join(parts)}) -> {returns}"
    return ("@classmethod " if isinstance(value, classmethod) else "") + text


def missing_members(obj: Any, kind: str) -> list[str]:
    """Members of its contract that a registered class lacks (empty when it satisfies one of its protocols).

    ``aspects`` (a metric without it counts as one verdict) and the report's ``headline``, ``plots`` and
    ``explain`` are optional for metrics, ``description`` for all."""
    optional = {"description", "aspects", "headline", "plots", "explain"}
    best: list[str] | None = None
    for protocol in KIND_PROTOCOLS[kind]:
        missing = [m for m in protocol_members(protocol) if m not in optional and not hasattr(obj, m)]
        if best is None or len(missing) < len(best):
            best = missing
    return best or []


def opt_in(metric: type) -> bool:
    """Whether a metric is scored only when named (``default = False``; absent means a default metric)."""
    return not getattr(metric, "default", True)
