"""The ``emubench`` command line. Commands parse options and call library functions; nothing else."""

from __future__ import annotations

import functools
import json
import os
import sys
import traceback
from dataclasses import dataclass
from pathlib import Path

import click

from . import __version__
from .devices import resolve_device
from .errors import EmubenchError
from .settings import ALPHA, BOOTSTRAP_DRAWS, NULL_CHOICES, NULL_DRAWS, ScoreSettings


class Group(click.Group):
    """Turns every error into one line on stderr and a non-zero exit; ``--verbose`` shows the traceback."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except (click.exceptions.Exit, click.exceptions.Abort, click.ClickException):
            raise
        except KeyboardInterrupt:
            click.echo("Interrupted.", err=True)
            sys.exit(130)
        except Exception as exc:
            if ctx.obj and ctx.obj.get("verbose"):
                traceback.print_exc()
            msg = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            prefix = "" if isinstance(exc, EmubenchError) else f"{type(exc).__name__}: "
            click.echo(f"Error: {prefix}{msg}", err=True)
            sys.exit(1)


def parse_options(pairs: tuple[str, ...]) -> dict:
    """KEY=VALUE pairs to a dict, values parsed as JSON where possible (numbers, true/false)."""
    out = {}
    for pair in pairs:
        if "=" not in pair:
            raise EmubenchError(f"option {pair!r} is not KEY=VALUE")
        k, v = pair.split("=", 1)
        try:
            out[k.strip().replace("-", "_")] = json.loads(v)
        except json.JSONDecodeError:
            out[k.strip().replace("-", "_")] = v
    return out


def positive(ctx, param, value):
    """click callback: refuse zero and negative counts before any work starts."""
    if value is not None and value <= 0:
        raise click.BadParameter(f"must be positive, got {value}")
    return value


dataset_options = [
    click.option(
        "--dataset", "dataset", default=None, help="Registered dataset name (default: lognormal-lcdm, or the preset's)."
    ),
    click.option(
        "--data",
        "data",
        multiple=True,
        type=click.Path(),
        help="CosmoGAN .npy (or FITS) file, folder or glob; repeatable.",
    ),
    click.option("--side-deg", type=float, default=None, help="Map side in degrees (CosmoGAN files: 0.866)."),
    click.option(
        "-D",
        "--dataset-option",
        "dataset_opts",
        multiple=True,
        metavar="KEY=VALUE",
        help="Dataset option, e.g. -D n_maps=2048.",
    ),
    click.option(
        "--split-seed", type=int, default=0, show_default=True, help="Seed of the 70/15/15 train/val/test split."
    ),
]


device_option = click.option("--device", default="auto", show_default=True, help="auto, cpu, cuda or cuda:N.")


def with_options(options):
    def deco(f):
        for opt in reversed(options):
            f = opt(f)
        return f

    return deco


def open_splits(source, default: str | None = None):
    """(MapSet, splits) of a ``pipeline.DataSource``; ``default``: the dataset when it names neither one nor files."""
    from .data import open_dataset, split

    name = source.dataset or (None if source.data else default)
    mapset = open_dataset(name, list(source.data) or None, source.side_deg, **source.options)
    return mapset, split(mapset, source.split_seed)


def data_source(f):
    """A command's data options (``dataset_options``, declared where its help lists them), given to it as one
    ``pipeline.DataSource`` ``source``."""

    @functools.wraps(f)
    def command(*args, dataset, data, side_deg, dataset_opts, split_seed, **kwargs):
        from .pipeline import DataSource

        source = DataSource(dataset, tuple(data), side_deg, parse_options(dataset_opts), split_seed)
        return f(*args, source=source, **kwargs)

    return command


def score_settings(f):
    """``score``'s settings options (-n, --metric, --seed, --floor-draws, --alpha, --null, --bootstrap-draws,
    --device), given to it as one ``ScoreSettings`` ``settings``."""

    @functools.wraps(f)
    def command(*args, n, metrics, seed, floor_draws, alpha, null, bootstrap_draws, device, **kwargs):
        settings = ScoreSettings(
            n=n,
            seed=seed,
            floor_draws=floor_draws,
            alpha=alpha,
            null=null,
            bootstrap_draws=bootstrap_draws,
            device=device,
            metrics=tuple(metrics) or None,
        )
        return f(*args, settings=settings, **kwargs)

    return command


def config_overrides(f):
    """``train``'s config options (--epochs, --max-steps, --batch-size, --seed, -c KEY=VALUE), given to it as one
    dict ``overrides`` of the trainer config fields set (the named options over -c)."""

    @functools.wraps(f)
    def command(*args, epochs, max_steps, batch_size, seed, config_opts, **kwargs):
        named = dict(epochs=epochs, max_steps=max_steps, batch_size=batch_size, seed=seed)
        overrides = {**parse_options(config_opts), **{k: v for k, v in named.items() if v is not None}}
        return f(*args, overrides=overrides, **kwargs)

    return command


@click.group(cls=Group)
@click.version_option(__version__, prog_name="emubench")
@click.option("-v", "--verbose", is_flag=True, help="Show full tracebacks on errors.")
@click.option("-q", "--quiet", is_flag=True, help="No progress output.")
@click.option(
    "--plugins-dir",
    type=click.Path(file_okay=False),
    multiple=True,
    help="Folder of plugin modules (*.py) to load; also EMUBENCH_PLUGINS_DIR.",
)
@click.pass_context
def cli(ctx, verbose, quiet, plugins_dir):
    """emubench: benchmark generative emulators of cosmological maps against physics statistics."""
    from .plugins import add_plugin_dir
    from .progress import set_quiet

    ctx.ensure_object(dict)
    ctx.obj.update(verbose=verbose, quiet=quiet)
    set_quiet(quiet)  # no progress bars anywhere in this process
    for d in plugins_dir:
        add_plugin_dir(d)


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
def plugins(as_json):
    """List datasets, models, trainers and metrics, with the plugin each comes from."""
    from .contracts import opt_in
    from .plugins import load_failures
    from .registry import KINDS, get_registry

    registries = {kind: get_registry(kind) for kind in KINDS}
    listing = {
        kind: [
            {
                "name": e.name,
                "plugin": e.plugin,
                "description": e.description,
                **({"opt_in": True} if kind == "metrics" and opt_in(e.obj) else {}),
                **({"clash": reg.clashes[e.name]} if e.name in reg.clashes else {}),
            }
            for e in reg
        ]
        for kind, reg in registries.items()
    }
    if as_json:
        click.echo(json.dumps({**listing, "failed": load_failures}, indent=2))
        return
    for kind in KINDS:
        click.echo(f"{kind}:")
        for e in listing[kind]:
            plugin = " + ".join(e["clash"]) + "  CLASH: unusable until one is removed" if "clash" in e else e["plugin"]
            opt_in = "  (opt-in: --metric " + e["name"] + ")" if e.get("opt_in") else ""
            click.echo(f"  {e['name']:<22} [{plugin}]  {e['description']}{opt_in}")
    for name, err in load_failures.items():
        click.echo(f"failed plugin {name}: {err}", err=True)
    for kind, reg in registries.items():
        for name, who in reg.clashes.items():
            click.echo(f"clash: {kind[:-1]} {name!r} is registered by {' and '.join(who)}", err=True)


@cli.command()
@click.argument("model")
@with_options(dataset_options)
@click.option("--preset", default=None, help="Trainer preset (cosmogan-dcgan: smoke, thesis, cosmogan).")
@click.option("--epochs", type=int, default=None, callback=positive, help="Number of epochs (overrides the preset).")
@click.option("--max-steps", type=int, default=None, callback=positive, help="Stop after this many optimiser steps.")
@click.option("--batch-size", type=int, default=None, callback=positive, help="Maps per batch (default 64).")
@device_option
@click.option(
    "--seed", type=int, default=None, help="Seed of weights, latents and batch order (default: the preset's)."
)
@click.option(
    "--out", type=click.Path(file_okay=False), default=None, help="Run folder (default runs/<model>-<preset>)."
)
@click.option("--resume", is_flag=True, help="Continue the run in --out from its last good checkpoint.")
@click.option(
    "-c",
    "--config",
    "config_opts",
    multiple=True,
    metavar="KEY=VALUE",
    help="Any trainer config field, e.g. -c lr=1e-4.",
)
@click.pass_context
@data_source
@config_overrides
def train(ctx, model, source, preset, overrides, device, out, resume):
    # No abbreviation with a period ("e.g.") in the first sentence: click 8.5.1 and older cut the command list's
    # short help at different places there, and docs/cli.md must read the same under both.
    """Train MODEL, such as cosmogan-dcgan, on a dataset; writes a run folder with checkpoints and a manifest."""
    from .compat import call_trainer
    from .contracts import TrainRequest
    from .training import find_trainer

    trainer = find_trainer(model)
    config = trainer.make_config(preset, overrides)
    device = resolve_device(device)
    out = Path(out or f"runs/{model}-{preset or trainer.default_preset}")
    if resume and (out / "manifest.json").exists():
        from .pipeline import data_of_run

        source = data_of_run(out, source)  # resume on the data and split the run was trained on, unless told
    mapset, splits = open_splits(source, default=config.get("dataset"))
    request = TrainRequest(model, splits, mapset, source.split_seed, config, out, resume, device, ctx.obj["quiet"])
    run = call_trainer(trainer, request)
    if int(os.environ.get("RANK", "0")) == 0:  # under torchrun every rank returns here; one line is enough
        click.echo(f"run written to {run}")


@cli.command()
@click.option(
    "--model", "model_spec", required=True, help="Run folder, checkpoint file, or registered training-free model."
)
@click.option("-n", "n", type=int, required=True, callback=positive, help="Number of maps.")
@click.option("--out", type=click.Path(dir_okay=False), required=True, help="Output .npy file (N, H, W) float32 κ.")
@with_options(dataset_options)
@click.option("--seed", type=int, default=0, show_default=True, help="Sampling seed.")
@device_option
@click.option(
    "-p",
    "--param",
    "params",
    multiple=True,
    metavar="NAME=VALUE",
    help="A parameter of a conditional model's maps, e.g. -p omega_m=0.30 -p sigma8=0.75 (all it is conditioned on).",
)
@data_source
def sample(model_spec, n, out, source, seed, device, params):
    """Draw N maps from a model and save them as .npy (κ units); a conditional model's at the parameters -p."""
    import numpy as np

    from .io import save_npy
    from .models import resolve_model, timed_sample

    given = parse_options(params)
    if any(not isinstance(v, (int, float)) or isinstance(v, bool) for v in given.values()):
        raise EmubenchError(f"-p values must be numbers, got {given}")
    device = resolve_device(device)
    train = None
    if not Path(model_spec).exists():
        _, splits = open_splits(source)
        train = splits["train"]
    model, _ = resolve_model(model_spec, train, seed=seed, device=device)
    names = tuple(getattr(model, "parameters", ()) or ())
    if set(given) != set(names):
        wanted = f"conditioned on {', '.join(names)}: give each with -p NAME=VALUE" if names else "not conditional"
        raise EmubenchError(f"model {model_spec!r} is {wanted} (got {', '.join(given) or 'none'})")
    theta = np.array([given[k] for k in names], dtype=np.float64) if names else None
    maps, rate = timed_sample(model, n, seed=seed, device=device, params=theta)
    save_npy(out, maps)
    at = f" at {', '.join(f'{k}={v:g}' for k, v in zip(names, theta))}" if names else ""
    click.echo(f"wrote {n} maps {maps.shape[1]}x{maps.shape[2]}{at} to {out} ({rate:.1f} maps/s)")


@cli.command()
@click.option(
    "--model", "model_spec", default=None, help="Run folder, checkpoint file, or registered training-free model name."
)
@click.option(
    "--maps", "maps_file", default=None, type=click.Path(dir_okay=False), help="Score maps made elsewhere (.npy, κ)."
)
@with_options(dataset_options)
@click.option(
    "-n", "n", type=int, default=None, callback=positive, help="Maps per set (default: the whole validation split)."
)
@click.option(
    "--metric",
    "metrics",
    multiple=True,
    help="Only these metrics (repeatable; default: every metric that is not opt-in, see `emubench plugins`).",
)
@click.option("--seed", type=int, default=0, show_default=True, help="Sampling, null and bootstrap seed.")
@click.option(
    "--floor-draws",
    type=int,
    default=NULL_DRAWS,
    show_default=True,
    callback=positive,
    help="Real-vs-real null draws each verdict is calibrated on.",
)
@click.option(
    "--alpha",
    type=float,
    default=ALPHA,
    show_default=True,
    help="False-positive rate of the whole score: a perfect emulator gets any flag with this probability at most.",
)
@click.option(
    "--null",
    "null",
    type=click.Choice(NULL_CHOICES),
    default="auto",
    show_default=True,
    help="Where the real maps of the null come from: fresh: new maps of the dataset's generator (auto where there "
    "is one); train: the training split (auto for files). Never the generated maps.",
)
@click.option(
    "--bootstrap-draws",
    type=click.IntRange(min=0),
    default=BOOTSTRAP_DRAWS,
    show_default=True,
    help="Bootstrap resamples for the per-bin 95% confidence intervals (0: none).",
)
@device_option
@click.option(
    "--allow-other-data",
    is_flag=True,
    help="Score a run on data other than those it was trained on (a different content hash) on purpose.",
)
@click.option("--label", default=None, help="Name shown in reports and the leaderboard.")
@click.option("--out", type=click.Path(file_okay=False), default=None, help="Report folder (default reports/<label>).")
@click.pass_context
@data_source
@score_settings
def score(ctx, model_spec, maps_file, source, settings, allow_other_data, label, out):
    """Score a model (or a .npy of maps) against real maps; writes a report folder."""
    from .pipeline import score_and_report

    if bool(model_spec) == bool(maps_file):
        raise EmubenchError("give exactly one of --model or --maps")
    written = score_and_report(
        model_spec=model_spec,
        maps_file=maps_file,
        source=source,
        settings=settings,
        label=label,
        out=out,
        quiet=ctx.obj["quiet"],
        allow_other_data=allow_other_data,
    )
    click.echo(written.summary.rstrip("\n"))
    click.echo(f"report written to {written.folder}")


def _calibration_options(f):
    for opt in reversed(
        [
            click.argument("dataset"),
            click.option(
                "-D",
                "--dataset-option",
                "dataset_opts",
                multiple=True,
                metavar="KEY=VALUE",
                help="Option of the reference dataset (its seed is the reference's; emulators use others).",
            ),
            click.option(
                "-n",
                "n",
                type=int,
                default=None,
                callback=positive,
                help="Maps per set (default: the validation split).",
            ),
            click.option(
                "--first-seed",
                type=int,
                default=100,
                show_default=True,
                help="Dataset seed of the first basis emulator.",
            ),
            click.option(
                "--floor-draws",
                type=int,
                default=NULL_DRAWS,
                show_default=True,
                callback=positive,
                help="Null draws per verdict.",
            ),
            click.option(
                "--alpha", type=float, default=ALPHA, show_default=True, help="False-positive rate of a whole score."
            ),
            click.option(
                "--metric",
                "metrics",
                multiple=True,
                help="The metrics of each score (repeatable; default: every metric that is not opt-in). Each verdict "
                "is judged at the rate a score with these metrics gives it.",
            ),
            click.option(
                "--out", type=click.Path(file_okay=False), required=True, help="Folder for the tables and plot."
            ),
        ]
    ):
        f = opt(f)
    return f


@dataclass(frozen=True)
class Basis:
    """What ``calibrate`` and ``power`` share: the reference ``dataset`` and its ``options``, maps per set ``n``, the
    dataset seed of the first perfect emulator, the null draws, the false-positive rate of a score, the metrics of a
    score (empty: the default ones), the folder."""

    dataset: str
    options: dict
    n: int | None
    first_seed: int
    floor_draws: int
    alpha: float
    metrics: tuple[str, ...]
    out: Path


def calibration_basis(f):
    """The options of ``_calibration_options``, given to the command as one ``Basis`` ``basis``."""

    @functools.wraps(f)
    def command(*args, dataset, dataset_opts, n, first_seed, floor_draws, alpha, metrics, out, **kwargs):
        basis = Basis(dataset, parse_options(dataset_opts), n, first_seed, floor_draws, alpha, metrics, Path(out))
        return f(*args, basis=basis, **kwargs)

    return command


@cli.command()
@_calibration_options
@click.option(
    "--emulators", type=int, default=30, show_default=True, callback=positive, help="Perfect emulators to score."
)
@click.pass_context
@calibration_basis
def calibrate(ctx, basis, emulators):
    """Measure the false-positive rates: perfect emulators (the dataset with other seeds) scored against it; on a
    dataset of several cosmologies, at every cosmology and across them."""
    from .calibration import cosmology_false_positive_rates, cosmology_rate_table, false_positive_rates, rate_table
    from .io import write_text
    from .progress import say
    from .registry import get
    from .report import markdown_table

    log = None if ctx.obj["quiet"] else (lambda m: say(f"[emubench] {m}"))
    b = basis
    seeds = list(range(b.first_seed, b.first_seed + emulators))
    kw = dict(options=b.options, n=b.n, floor_draws=b.floor_draws, alpha=b.alpha, metrics=b.metrics or None, log=log)
    summaries = None
    if getattr(get("datasets", b.dataset), "param_names", ()) and "omega_m" not in b.options:
        v, summaries = cosmology_false_positive_rates(b.dataset, seeds, **kw)
        table = cosmology_rate_table(v, summaries, b.alpha)
    else:
        v = false_positive_rates(b.dataset, seeds, **kw)
        table = rate_table(v, b.alpha)
    folder = b.out
    folder.mkdir(parents=True, exist_ok=True)  # after the work: a failed run leaves no folder
    if summaries is not None:
        write_text(folder / "summaries.csv", summaries.to_csv(index=False))
    write_text(folder / "verdicts.csv", v.to_csv(index=False))
    write_text(folder / "false_positive_rates.csv", table.to_csv(index=False))
    md = markdown_table(table)
    write_text(folder / "false_positive_rates.md", md + "\n")
    click.echo(md)
    click.echo(f"written to {folder}")


@cli.command()
@_calibration_options
@click.option(
    "--bases",
    type=int,
    default=3,
    show_default=True,
    callback=positive,
    help="Perfect emulators each flaw is planted in; a level counts when every one is flagged.",
)
@click.pass_context
@calibration_basis
def power(ctx, basis, bases):
    """What each metric can see: the smallest amplitude error, smoothing, white noise, variance error, Fourier phase
    randomisation and fraction of maps with another map's small scales each verdict flags, and the smallest
    fraction of copied maps (whole, patchworks, pasted crops) memorisation flags; and any larger flaw a verdict
    passes after flagging a smaller (written to passes_after_flag.csv)."""
    from .calibration import COPY_FLAWS, FLAWS, passes_after_flag, sensitivity, smallest_text
    from .io import write_text
    from .progress import say
    from .report import markdown_table, plot_sensitivity

    log = None if ctx.obj["quiet"] else (lambda m: say(f"[emubench] {m}"))
    b = basis
    seeds = list(range(b.first_seed, b.first_seed + bases))
    table, smallest = sensitivity(
        b.dataset,
        seeds,
        options=b.options,
        n=b.n,
        floor_draws=b.floor_draws,
        alpha=b.alpha,
        metrics=b.metrics or None,
        log=log,
    )
    folder = b.out
    folder.mkdir(parents=True, exist_ok=True)
    write_text(folder / "sensitivity.csv", table.to_csv(index=False))
    smallest = smallest.assign(
        verdict=smallest.metric + "/" + smallest.aspect, text=[smallest_text(r) for r in smallest.itertuples()]
    )
    wide = smallest.pivot(index="verdict", columns="flaw", values="smallest_flagged")
    shown = smallest.pivot(index="verdict", columns="flaw", values="text")
    wide = wide.reindex(columns=[c for c in (*FLAWS, *COPY_FLAWS) if c in wide.columns])
    write_text(folder / "smallest_flagged.csv", wide.to_csv())
    shown = shown.reindex(columns=wide.columns).fillna("not tried")
    md = markdown_table(shown.reset_index())
    write_text(folder / "smallest_flagged.md", md + "\n")
    plot_sensitivity(table, folder / "sensitivity.png")
    falls = passes_after_flag(table)
    write_text(folder / "passes_after_flag.csv", falls.to_csv(index=False))
    click.echo(md)
    for r in falls.itertuples():  # power should never fall as a flaw grows: say so loudly where it does
        click.echo(
            f"warning: {r.metric}/{r.aspect} passes {r.flaw} {r.level:g} on basis {r.basis} after flagging "
            f"{r.flaw} {r.flagged_at:g}",
            err=True,
        )
    click.echo(f"written to {folder}")


@cli.group()
def data():
    """Dataset utilities."""


@data.command("export")
@click.argument("dataset", required=False)
@click.option(
    "--data", "data_files", multiple=True, type=click.Path(), help="Read these files instead of a registered dataset."
)
@click.option("--side-deg", type=float, default=None, help="Map side in degrees.")
@click.option("-D", "--dataset-option", "dataset_opts", multiple=True, metavar="KEY=VALUE", help="Dataset option.")
@click.option(
    "--split",
    "which",
    type=click.Choice(["train", "val", "test", "all"]),
    default="train",
    show_default=True,
    help="Which split.",
)
@click.option("--split-seed", type=int, default=0, show_default=True, help="Seed of the split.")
@click.option("-n", "n", type=int, default=None, callback=positive, help="Number of maps (default: all of the split).")
@click.option("--out", type=click.Path(dir_okay=False), required=True, help="Output .npy file.")
def data_export(dataset, data_files, side_deg, dataset_opts, which, split_seed, n, out):
    """Write a dataset's split to .npy (N, H, W) float32 κ; for maps at several cosmologies also each map's
    parameters, to OUT with .params.csv for .npy (one row per map, a column per parameter)."""
    from .io import save_npy, write_text
    from .pipeline import DataSource

    source = DataSource(dataset, tuple(data_files), side_deg, parse_options(dataset_opts), split_seed)
    mapset, splits = open_splits(source)
    part = mapset if which == "all" else splits[which]
    maps = part.head(n or len(part))
    save_npy(out, maps)
    if part.params is not None:
        rows = [",".join(part.param_names)] + [",".join(f"{v:.10g}" for v in p) for p in part.params[: len(maps)]]
        write_text(Path(out).with_suffix(".params.csv"), "\n".join(rows) + "\n")
    click.echo(f"wrote {len(maps)} maps of {part.name} ({maps.shape[1]}x{maps.shape[2]}, {part.side_deg}°) to {out}")


@cli.command()
@click.argument("maps_file", type=click.Path(dir_okay=False))
@click.option("--side-deg", type=float, required=True, help="Map side in degrees.")
@click.option(
    "--out", type=click.Path(dir_okay=False), default=None, help="Output .csv or .parquet (default: MAPS.stats.csv)."
)
@click.option(
    "--nbins", type=int, default=20, show_default=True, callback=positive, help="Number of ℓ and threshold bins."
)
def stats(maps_file, side_deg, out, nbins):
    """Per-map summary statistics (moments, power spectrum, Minkowski, peaks) of a .npy of maps, to CSV/Parquet."""
    from .io import atomic_path
    from .pipeline import map_statistics

    if side_deg <= 0:
        raise EmubenchError(f"--side-deg must be positive, got {side_deg}")
    df = map_statistics(maps_file, side_deg, nbins)
    out = Path(out or f"{maps_file}.stats.csv")
    with atomic_path(out) as tmp:
        if out.suffix == ".parquet":
            df.to_parquet(tmp, index=False)
        else:
            df.to_csv(tmp, index=False)
    click.echo(f"wrote {len(df)} rows for {df['map'].nunique()} maps to {out}")


@cli.command()
@click.argument("reports", nargs=-1, required=True, type=click.Path(exists=True, file_okay=False))
@click.option(
    "--out",
    type=click.Path(file_okay=False),
    default="reports/leaderboard",
    show_default=True,
    help="Folder for the leaderboard (replaced as a whole; refused if it holds anything else).",
)
def report(reports, out):
    """Leaderboard across scored runs (report folders written by emubench score), one table per dataset."""
    from .report import leaderboard

    table = leaderboard(list(reports), out)
    click.echo(
        f"leaderboard of {len(table)} models on {table['dataset_hash'].nunique()} dataset(s) written to "
        f"{out}/leaderboard.md and leaderboard.html"
    )


def main() -> None:
    from .plugins import get_plugin_manager

    try:
        get_plugin_manager().hook.register_commands(cli=cli)
    except Exception as exc:  # a plugin's command must not take the CLI down
        click.echo(f"warning: a plugin's register_commands failed: {exc}", err=True)
    cli(obj={})


if __name__ == "__main__":
    main()
