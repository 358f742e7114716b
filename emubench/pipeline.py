"""The whole scoring job behind ``emubench score`` and ``emubench stats``: data → model → metrics → report."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from . import __version__
from .checkpoint import environment
from .contracts import CURVE_FIELDS
from .data import open_dataset, split
from .errors import EmubenchError
from .io import check_maps, load_npy
from .progress import Bar, say
from .runs import RunFolder
from .settings import ScoreSettings

if TYPE_CHECKING:  # pandas, torch and matplotlib load after the cheap checks
    import pandas as pd


def _log(quiet: bool, msg: str) -> None:
    if not quiet:
        say(f"[emubench] {msg}")


def data_of_run(run: Path, source: DataSource) -> DataSource:
    """The data a run was trained on (its manifest's dataset, options, files and split seed, with the options and
    map side the user gave on top), unless the user named a dataset or files explicitly: then ``source``."""
    if source.dataset or source.data:
        return source
    ds = RunFolder.open(run).manifest.get("dataset")
    if not ds:  # a manifest from before the schema, without the data it was trained on: never guess them
        raise EmubenchError(
            f"{run}/manifest.json has no 'dataset' entry: say which data the run was trained on "
            "with --dataset or --data"
        )
    opts = {k: v for k, v in (ds.get("options") or {}).items() if k not in ("path", "side_deg")}
    return DataSource(
        dataset=None if ds.get("files") else ds.get("name"),
        data=tuple(ds.get("files") or ()),
        side_deg=source.side_deg or ds.get("side_deg"),
        options={**opts, **source.options},
        split_seed=ds.get("split_seed", source.split_seed),
    )


@dataclass(frozen=True)
class Written:
    """What ``score_and_report`` wrote: the report folder, and its verdicts as Markdown (the header facts and the
    verdict table; across cosmologies, the whole summary), which ``emubench score`` prints."""

    folder: Path
    summary: str


@dataclass(frozen=True)
class DataSource:
    """Which real maps a score is against: a registered ``dataset`` (with ``options``) or files ``data`` (with
    ``side_deg``), split with ``split_seed``. Empty for a run: the data it was trained on."""

    dataset: str | None = None
    data: tuple[str, ...] = ()
    side_deg: float | None = None
    options: dict = field(default_factory=dict)
    split_seed: int = 0


def score_and_report(
    *,
    model_spec: str | None = None,
    maps_file: str | None = None,
    source: DataSource = DataSource(),
    settings: ScoreSettings = ScoreSettings(),
    label: str | None = None,
    out: str | Path | None = None,
    quiet: bool = False,
    allow_other_data: bool = False,
) -> Written:
    """Score a model or a file of maps and write the report; returns the report folder and its verdicts.

    Cheap checks come first (the model, metric and dataset names, the run folder and its manifest, the maps
    file), so a mistake is reported before any dataset is generated or loaded. A run is scored on the data it
    was trained on; other data (a different content hash) are refused unless ``allow_other_data``."""
    from .models import check_model_spec
    from .registry import get, get_registry
    from .report.display import declarations

    found = check_model_spec(model_spec) if model_spec else None  # (the opened run, checkpoint) for a run folder
    run = found[0] if found else None
    # how the report shows each metric, checked before any work (a malformed declaration is a one-line error)
    metrics = settings.metrics
    display = declarations(
        [get("metrics", name) for name in metrics] if metrics else [e.obj for e in get_registry("metrics")]
    )
    # a readable .npy without pickles, of finite float maps (its map size is checked against the data below)
    file_maps = check_maps(load_npy(maps_file), str(maps_file)) if maps_file else None
    if run is not None:
        source = data_of_run(run.path, source)
    if not source.data:
        get("datasets", source.dataset or "lognormal-lcdm")
    import pandas as pd

    from .devices import resolve_device
    from .models import model_cost, peak_memory_mb, reset_peak_memory, resolve_model, timed_sample
    from .report import write_report
    from .report.pages import verdicts_markdown
    from .scoring import check_generated, score

    settings = settings.replace(device=resolve_device(settings.device))
    t0 = time.perf_counter()
    mapset = open_dataset(source.dataset, list(source.data) or None, source.side_deg, **source.options)
    if run is not None:
        run.check_data(mapset, allow_other_data=allow_other_data)
    splits = split(mapset, source.split_seed)
    _log(
        quiet,
        f"dataset {mapset.name}: {len(mapset)} maps {mapset.npix}² over {mapset.side_deg}° "
        f"(train/val/test {len(splits['train'])}/{len(splits['val'])}/{len(splits['test'])})",
    )
    if len(mapset.cosmologies()) > 1:
        if maps_file:
            raise EmubenchError(
                f"dataset {mapset.name} holds several cosmologies: score a model (--model), which samples at each; "
                "a file of maps has no parameters"
            )
        job = _Job(model_spec, run, settings, label, out, quiet, display, source.split_seed)
        return _score_cosmologies(job, splits, mapset, t0)
    device, seed = settings.device, settings.seed
    n_req = settings.n or min(len(splits["val"]), len(splits["test"]))
    if maps_file:
        generated = check_generated(file_maps, mapset.npix, str(maps_file), check_finite=False)  # scanned above
        n_req = settings.n or min(n_req, len(generated))
        generated = np.asarray(generated[:n_req], dtype=np.float32)
        provenance, rate, name = {"maps_file": str(maps_file)}, float("nan"), Path(maps_file).stem
        cost = None  # maps made elsewhere: their cost is not known here
    else:
        model, provenance = resolve_model(model_spec, splits["train"], seed=seed, device=device)
        reset_peak_memory(device)
        generated, rate = timed_sample(model, n_req, seed=seed, device=device)
        cost = model_cost(model, provenance, rate, device, peak_memory_mb(device))
        name = provenance["model"] if run is None else f"{provenance['model']}:{run.path.name}"
        _log(quiet, f"sampled {n_req} maps from {name} at {rate:.1f} maps/s on {device}")
    label = label or name
    scores, ctx = score(generated, splits, settings.replace(n=n_req), model=label, dataset=mapset.name)
    _log(quiet, f"scored {len(scores)} rows in {time.perf_counter() - t0:.1f}s")
    info = {
        **_info(label, provenance, mapset, source.split_seed, settings, ctx.extras["calibration"], display, scores),
        "dataset_files": mapset.meta.get("files"),
        "n": n_req,
        "throughput_maps_per_s": rate,
        "cost": cost,
    }
    curves = pd.DataFrame(ctx.curves, columns=["metric", *CURVE_FIELDS])
    folder = Path(out or Path("reports") / label.replace(":", "-").replace("/", "-"))
    reference = splits["val"].head(min(8, n_req))
    with Bar("writing the report", unit="pages"):  # no count: its clock shows the figures are being drawn
        write_report(folder, scores, curves, info, generated=generated, reference=reference, extras=ctx.extras)
    return Written(folder, verdicts_markdown(scores, info))


@dataclass(frozen=True)
class _Job:
    """What ``score_and_report`` hands to its part for datasets of several cosmologies."""

    model_spec: str | None
    run: RunFolder | None
    settings: ScoreSettings
    label: str | None
    out: str | Path | None
    quiet: bool
    display: dict
    split_seed: int


def _info(label, provenance, mapset, split_seed, settings, calibration, display, scores) -> dict:
    """The report's info block shared by scores at one and at several cosmologies (score.json)."""
    return {
        "model": label,
        "label": label,
        "provenance": provenance,
        "dataset": mapset.name,
        "dataset_options": dict(mapset.meta.get("options", {})),
        "dataset_hash": mapset.content_hash(),
        "split_seed": split_seed,
        "side_deg": mapset.side_deg,
        "npix": mapset.npix,
        "n": settings.n,
        "seed": settings.seed,
        "floor_draws": settings.floor_draws,
        "calibration": calibration,
        "display": {name: d for name, d in display.items() if (scores["metric"] == name).any()},
        "bootstrap_draws": settings.bootstrap_draws,
        "device": settings.device,
        "emubench_version": __version__,
        "environment": environment(),
    }


def _score_cosmologies(job: _Job, splits: dict, mapset, t0: float) -> Written:
    """``score_and_report`` on a dataset of several cosmologies: every cosmology scored on its own
    (``scoring.score_cosmologies``), one verdict per (metric, aspect) across the training and across the held-out
    cosmologies (``scoring.across_cosmologies``), and the report with verdict maps over the parameter plane."""
    import pandas as pd

    from .models import model_cost, peak_memory_mb, reset_peak_memory, resolve_model, timed_sample
    from .report.cosmologies import summary_markdown, write_cosmology_report
    from .scoring import across_cosmologies, cosmology_verdicts, score_cosmologies

    settings, run, device = job.settings, job.run, job.settings.device
    model, provenance = resolve_model(job.model_spec, splits["train"], seed=settings.seed, device=device)
    conditional = bool(getattr(model, "parameters", ()))
    name = provenance["model"] if run is None else f"{provenance['model']}:{run.path.name}"
    label = job.label or name
    first = splits["val"].cosmologies()[0]
    reset_peak_memory(device)
    _, rate = timed_sample(
        model, min(64, settings.n or 64), seed=settings.seed, device=device, params=first if conditional else None
    )
    cost = model_cost(model, provenance, rate, device, peak_memory_mb(device))
    _log(job.quiet, f"{name} is {'conditioned on ' + ', '.join(model.parameters) if conditional else 'unconditional'}; "
         f"sampling at {rate:.1f} maps/s on {device}")  # fmt: skip

    def sample(k: int, s: int, theta: np.ndarray) -> np.ndarray:
        maps, _ = timed_sample(model, k, seed=s, device=device, params=theta if conditional else None, warmup=0)
        return maps

    log = None if job.quiet else lambda msg: _log(False, msg)
    extras: dict = {}
    scores, curves, calibration = score_cosmologies(sample, splits, settings, model=label, log=log, extras=extras)
    grid = sample_grid(sample, splits["val"], settings.seed)
    names = list(mapset.param_names)
    per = cosmology_verdicts(scores, names)
    summary = across_cosmologies(per, names, settings.alpha)
    _log(job.quiet, f"scored {scores.groupby(names).ngroups} cosmologies in {time.perf_counter() - t0:.1f}s")
    info = {
        **_info(label, provenance, mapset, job.split_seed, settings, calibration, job.display, scores),
        "conditional": conditional,
        "parameters": names,
        "heldout_params": mapset.meta.get("heldout_params"),
        "throughput_maps_per_s": rate,
        "cost": cost,
    }
    curves_df = pd.DataFrame(curves, columns=["metric", *CURVE_FIELDS, *names, "cosmology"])
    folder = Path(job.out or Path("reports") / label.replace(":", "-").replace("/", "-"))
    with Bar("writing the report", unit="pages"):
        write_cosmology_report(folder, scores, per, summary, curves_df, info, extras=extras, samples=grid)
    return Written(folder, summary_markdown(summary, per, info))


SAMPLE_GRID_STREAM = 104_729  # the sample grid's seed offset: a stream apart from every scored cosmology's


def sample_grid(sample: Callable, val, seed: int, k: int = 3) -> list[dict]:
    """One generated and one real (validation) map at k × k cosmologies of the design (the lowest, middle and
    highest value of the first two parameters), for the report's sample maps across the parameter plane:
    [{"params": (P,), "generated": (H, W), "real": (H, W)}], the second parameter's high values first."""
    thetas = val.cosmologies()
    thetas = thetas[[not val.is_heldout(t) for t in thetas]]
    if thetas.shape[1] < 2 or len(thetas) < k * k:
        return []
    picks = []
    for y in np.quantile(np.unique(thetas[:, 1]), np.linspace(1, 0, k), method="nearest"):
        for x in np.quantile(np.unique(thetas[:, 0]), np.linspace(0, 1, k), method="nearest"):
            at = thetas[(thetas[:, 0] == x) & (thetas[:, 1] == y)]
            if len(at):
                picks.append(at[0])
    out = []
    for i, theta in enumerate(picks):
        generated = sample(1, seed + SAMPLE_GRID_STREAM + i, theta)[0]
        out.append({"params": theta, "generated": generated, "real": val.at(theta).get(0)[0]})
    return out


def map_statistics(maps_file: str, side_deg: float, nbins: int = 20, chunk: int = 256) -> pd.DataFrame:
    """Per-map statistics of a .npy file as a long table: map, statistic, bin, value.

    Moments; C_ℓ over ``nbins`` log ℓ bins up to Nyquist; V0, V1, V2, peaks and pdf with thresholds in units of
    the whole file's σ (ν ∈ [-3, 5]).
    """
    import pandas as pd

    from .stats import default_ell_edges, minkowski, moments, pdf, peak_counts, power_spectrum

    maps = check_maps(load_npy(maps_file), str(maps_file))
    # σ of all pixels of the file, from running sums (chunked: the file may be memory-mapped and large)
    total = total_sq = 0.0
    for i in range(0, len(maps), chunk):
        block = np.asarray(maps[i : i + chunk], dtype=np.float64)
        total += block.sum()
        total_sq += np.square(block).sum()
    count = maps.size
    sigma = float(np.sqrt(max(total_sq / count - (total / count) ** 2, 0.0)))
    if not sigma > 0:
        raise EmubenchError(f"{maps_file}: maps are constant (σ = 0); statistics in σ units are undefined")
    nu_edges = np.linspace(-3, 5, nbins + 1)
    edges = default_ell_edges(maps.shape[-1], side_deg, nbins)
    parts = []
    for s in range(0, len(maps), chunk):
        m = np.asarray(maps[s : s + chunk], dtype=np.float32)
        ids = np.arange(s, s + len(m))
        mom = moments(m)
        for k, v in mom.items():
            parts.append(pd.DataFrame({"map": ids, "statistic": k, "bin": np.nan, "value": v}))
        ell, p = power_spectrum(m, side_deg, edges)
        nu, v0, v1, v2 = minkowski(m, nu_edges * sigma)
        _, pk = peak_counts(m, nu_edges * sigma)
        _, pd_ = pdf(m, nu_edges * sigma)
        for stat, x, arr in (
            ("C_ell", ell, p),
            ("V0", nu / sigma, v0),
            ("V1", nu / sigma, v1),
            ("V2", nu / sigma, v2),
            ("peaks", nu / sigma, pk),
            ("pdf", nu / sigma, pd_),
        ):
            parts.append(
                pd.DataFrame(
                    {
                        "map": np.repeat(ids, len(x)),
                        "statistic": stat,
                        "bin": np.tile(x, len(m)),
                        "value": arr.reshape(-1),
                    }
                )
            )
    return pd.concat(parts, ignore_index=True)
