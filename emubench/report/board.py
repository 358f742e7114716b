"""The leaderboard: score folders grouped by dataset, one ranked table (and overlay plots) per dataset.

Models are ranked only on the metrics every model of their table was scored with: a model scored with one
metric cannot outrank one scored with eight by having had fewer chances to be flagged. The rank is the number
of flagged verdicts, ties broken by severity (``_severity``); a model flagged for memorisation is a copy of its
training maps and is disqualified (listed apart, unranked; a metric declares this with ``disqualifies``). Each
row carries the model's cost (score.json ``cost``). The headline statistics each metric declares
(``emubench.contracts.Metric.headline``) follow in tables of a few metrics each (``_chunks``), so that every
column fits the page.

Scores across cosmologies (a dataset of several, ``emubench score`` on ``lognormal-cosmo-64``) get a table of
their own kind: one column per (metric, aspect) and group of cosmologies (training, held-out), each cell that
group's verdict across its cosmologies and how many cosmologies were flagged on their own; ranked the same way.
"""

from __future__ import annotations

import base64
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..errors import EmubenchError
from ..io import atomic_folder, write_bytes, write_json, write_text
from ..scoring import verdicts
from .cosmologies import GROUPS, inferring
from .display import Display, resolve
from .pages import CURVES, INFO, SCORES, environment, metric_figures, slug, wide
from .tables import cost_cells, fmt, fmt_p, times_floor, times_text

INTRO = (
    "One section per dataset (name and content hash). The ranking: `flags` counts flagged (metric, aspect) "
    "verdicts over the metrics every model of the table was scored with; ties are broken by `severity`, the sum "
    "over flagged verdicts of log10 of the multiple of the floor (across cosmologies: of −log10 of the combined "
    "p-value), the smaller first; flags on other metrics are listed but not ranked. A model flagged for "
    "memorisation copies its training maps and is disqualified: listed apart, not ranked. Then the headline "
    "statistics, a few metrics per table. Each cell: value (|value − ideal| as a multiple of its floor, the "
    "difference a row must exceed to be flagged, from real-vs-real null draws); ⚑ marks a flagged row."
)
MARKER = "leaderboard.json"  # what makes a folder a leaderboard's (and safe to replace wholesale)


@dataclass
class Scored:
    """One score folder as read back."""

    folder: Path
    label: str
    scores: pd.DataFrame
    curves: pd.DataFrame
    info: dict
    display: dict[str, Display]

    @property
    def dataset(self) -> tuple[str, str]:
        return str(self.info.get("dataset") or self.scores["dataset"].iloc[0]), str(self.info.get("dataset_hash"))

    @property
    def across(self) -> pd.DataFrame | None:
        """The verdicts across cosmologies (cosmology = train/heldout, metric, aspect, cosmologies, flagged,
        p_value, verdict) of a score across cosmologies; None for a score at one cosmology."""
        rows = self.info.get("across_cosmologies")
        return None if rows is None else pd.DataFrame(rows)


def read_scored(path: str | os.PathLike) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    """scores.csv, curves.csv and score.json of a score folder (a one-line error if it is not one)."""
    p = Path(path)
    if not (p / SCORES).exists():
        raise EmubenchError(f"{path}: not a score report (no {SCORES}); run emubench score first")
    try:
        scores = pd.read_csv(p / SCORES)
        curves = pd.read_csv(p / CURVES) if (p / CURVES).exists() else pd.DataFrame()
        info = json.loads((p / INFO).read_text()) if (p / INFO).exists() else {}
    except (pd.errors.ParserError, pd.errors.EmptyDataError, json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise EmubenchError(f"{path}: corrupt score report ({exc})") from None
    missing = {"metric", "aspect", "statistic", "value", "ideal", "floor", "p_value", "flagged", "summary"} - set(
        scores.columns
    )
    if missing:
        raise EmubenchError(f"{path}: corrupt score report ({SCORES} lacks column(s) {', '.join(sorted(missing))})")
    return scores, curves, info


def check_out(paths: list[Path], out: Path) -> None:
    """Refuse, before any work, an ``out`` that would destroy something: a folder holding other files than a
    previous leaderboard's, or one that holds (or is) a score folder being read."""
    if out.exists() and not out.is_dir():
        raise EmubenchError(f"--out {out}: is a file, not a folder")
    for p in paths:
        if p.resolve() == out.resolve() or out.resolve() in p.resolve().parents:
            raise EmubenchError(
                f"--out {out}: is or holds {p}, one of the score folders read; the leaderboard replaces its folder "
                "as a whole, so give another one"
            )
    if out.is_dir() and any(out.iterdir()) and not (out / MARKER).exists():
        names = sorted(x.name for x in out.iterdir())
        shown = ", ".join(names[:3]) + (", ..." if len(names) > 3 else "")
        raise EmubenchError(
            f"--out {out}: holds other files ({shown}); give a new folder or one written by emubench report"
        )


def _labels(entries: list[Scored]) -> None:
    """Equal labels in one table get their folder's name, then a number, so every row is told apart."""
    for _ in range(2):
        seen: dict[str, list[Scored]] = {}
        for e in entries:
            seen.setdefault(e.label, []).append(e)
        for label, same in seen.items():
            if len(same) > 1:
                for i, e in enumerate(same, 1):
                    e.label = f"{label} ({e.folder.name})" if f"({e.folder.name})" not in label else f"{label} #{i}"


def _table(entries: list[Scored]) -> tuple[pd.DataFrame, list[tuple[str, str]], list[str]]:
    """One dataset's ranked table, its headline columns (metric, statistic) and the metrics it ranks on."""
    metrics = list(dict.fromkeys(m for e in entries for m in e.scores["metric"]))
    common = [m for m in metrics if all((e.scores["metric"] == m).any() for e in entries)]
    columns = list(
        dict.fromkeys((m, s) for m in metrics for e in entries if m in e.display for s in e.display[m].headline)
    )
    rows = []
    for e in entries:
        v = verdicts(e.scores)
        ranked = v[v["metric"].isin(common)]
        other = v[~v["metric"].isin(common) & (v["verdict"] == "flag")]
        r: dict[str, Any] = {
            "model": e.label,
            "folder": str(e.folder),
            "flags": int((ranked["verdict"] == "flag").sum()),
            "severity": _severity(e.scores, common),
            "disqualified": _disqualified(e, v),
            "flagged": "; ".join(f"{a.metric}/{a.aspect}" for a in ranked[ranked["verdict"] == "flag"].itertuples()),
            "other flags": "; ".join(f"{a.metric}/{a.aspect}" for a in other.itertuples()),
            "maps/s": float(e.info.get("throughput_maps_per_s", np.nan) or np.nan),
            "device": e.info.get("device", ""),
            "cost": cost_cells(e.info),
        }
        summary = e.scores[e.scores["summary"].astype(bool)]
        for metric, stat in columns:
            hit = summary[(summary["metric"] == metric) & (summary["statistic"] == stat)]
            if not (e.scores["metric"] == metric).any():
                r[f"{metric}:{stat}"] = "not scored"
            elif len(hit):
                h = hit.iloc[0]
                value, floor = float(h["value"]), float(h["floor"])
                one_sided = bool(h.get("one_sided", False))
                mult = times_floor(value, float(h["ideal"]), floor, one_sided)
                r[f"{metric}:{stat}"] = (value, floor, bool(h["flagged"]), mult)
            else:
                r[f"{metric}:{stat}"] = None
        rows.append(r)
    return _ranked(pd.DataFrame(rows)), columns, common


def _disqualified(e: Scored, verdicts: pd.DataFrame) -> bool:
    """Whether a metric that declares its flag disqualifying (``disqualifies``: the memorisation check, a model
    that copies its training maps) flagged this score."""
    metrics = [m for m, d in e.display.items() if d.disqualifies]
    return bool((verdicts["metric"].isin(metrics) & (verdicts["verdict"] == "flag")).any())


def _across_table(entries: list[Scored]) -> tuple[pd.DataFrame, list[tuple[str, str]], list[str]]:
    """One table of scores across cosmologies: columns ("metric/aspect", group), ranked on the metrics every
    model was scored with; a cell is that group's verdict across its cosmologies."""
    tables = {id(e): e.across for e in entries}
    metrics = list(dict.fromkeys(m for t in tables.values() for m in t["metric"]))
    common = [m for m in metrics if all((t["metric"] == m).any() for t in tables.values())]
    columns = list(
        dict.fromkeys(
            (f"{r.metric}/{r.aspect}", GROUPS.get(r.cosmology, r.cosmology))
            for m in metrics
            for t in tables.values()
            for r in t[t["metric"] == m].itertuples()
        )
    )
    # held-out cosmologies first, and the parameter bias (the metric that infers the parameters) first in each
    # group: what a user of an emulator asks first
    order = ["held-out", "training"]
    bias = {m for e in entries for m in inferring(e.scores, list(e.info.get("parameters") or []))["metric"]}
    columns.sort(key=lambda c: (order.index(c[1]) if c[1] in order else len(order), c[0].split("/")[0] not in bias))
    rows = []
    for e in entries:
        t = tables[id(e)]
        ranked, other = t[t["metric"].isin(common)], t[~t["metric"].isin(common)]
        label = lambda x: f"{x.metric}/{x.aspect} ({GROUPS.get(x.cosmology, x.cosmology)})"  # noqa: E731
        r: dict[str, Any] = {
            "model": e.label,
            "folder": str(e.folder),
            "flags": int((ranked["verdict"] == "flag").sum()),
            # a flagged verdict weighs −log10 of its combined p-value (down to 1e-10, what the page resolves)
            "severity": float(-np.log10(np.clip(ranked.loc[ranked["verdict"] == "flag", "p_value"], 1e-10, 1)).sum()),
            "disqualified": _disqualified(e, t),
            # per group, how many of its ranked verdicts flag (the cells say which: a list would repeat them)
            "flagged": "; ".join(
                f"{GROUPS.get(g, g)}: {int((v['verdict'] == 'flag').sum())} of {len(v)}"
                for g, v in ranked.groupby("cosmology", sort=False)
            ),
            "other flags": "; ".join(label(x) for x in other[other["verdict"] == "flag"].itertuples()),
            "maps/s": float(e.info.get("throughput_maps_per_s", np.nan) or np.nan),
            "device": e.info.get("device", ""),
            "cost": cost_cells(e.info),
        }
        verdicts = _by_column(t)
        for key, group in columns:
            x = verdicts.get((key, group))
            if x is None:
                r[f"{key}:{group}"] = "not scored"
                continue
            r[f"{key}:{group}"] = {
                "value": x.verdict,
                "times": f"{x.flagged}/{x.cosmologies} alone, p {fmt_p(float(x.p_value))}",
                "sort": float(-np.log10(max(float(x.p_value), 1e-10))),
                "flag": x.verdict == "flag",
                "p_value": float(x.p_value),
                "cosmologies": int(x.cosmologies),
            }
        rows.append(r)
    return _ranked(pd.DataFrame(rows)), columns, common


def _severity(scores: pd.DataFrame, metrics: list[str]) -> float:
    """How far a score's flags are beyond their floors: over its flagged verdicts on ``metrics``, the sum of
    log10 of the largest multiple of the floor among each verdict's flagged summary rows (so a verdict 54× its
    floor weighs more than one at 3.6×, and two flags at 10× weigh as one at 100×)."""
    rows = scores[scores["summary"].astype(bool) & scores["flagged"].astype(bool) & scores["metric"].isin(metrics)]
    if rows.empty:
        return 0.0
    one_sided = rows["one_sided"].astype(bool) if "one_sided" in rows else pd.Series(False, index=rows.index)
    mult = [
        times_floor(float(r.value), float(r.ideal), float(r.floor), bool(o))
        for r, o in zip(rows.itertuples(), one_sided)
    ]
    worst = rows.assign(_m=np.nan_to_num(mult, nan=1.0)).groupby(["metric", "aspect"])["_m"].max()
    return float(np.log10(np.clip(worst.to_numpy(float), 1.0, None)).sum())


def _ranked(table: pd.DataFrame) -> pd.DataFrame:
    """Rows in rank order: models that copy training maps (memorisation flagged) are disqualified and go last,
    unranked; the others by flags, ties broken by severity (the smaller first), then by name."""
    table = table.sort_values(["disqualified", "flags", "severity", "model"], kind="stable").reset_index(drop=True)
    ranks = (~table["disqualified"]).cumsum()
    return table.assign(rank=ranks.where(~table["disqualified"]).astype("Int64"))


def _chunks(columns: list[tuple[str, str]], across: bool, size: int = 7) -> list[dict[str, Any]]:
    """The headline columns cut into tables of at most ``size`` columns, a metric (and, across cosmologies, a
    group of cosmologies) never split, so that every table fits the page's width with the model column."""
    blocks: list[tuple[tuple[str, ...], list[tuple[str, str]]]] = []
    for m, s in columns:
        key = (s, m.split("/")[0]) if across else (m,)
        if blocks and blocks[-1][0] == key:
            blocks[-1][1].append((m, s))
        else:
            blocks.append((key, [(m, s)]))
    chunks: list[dict[str, Any]] = []
    for key, cols in blocks:
        group = key[0] if across else None
        if chunks and chunks[-1]["group"] == group and len(chunks[-1]["columns"]) + len(cols) <= size:
            chunks[-1]["columns"] += cols
        else:
            chunks.append({"group": group, "columns": list(cols)})
    for c in chunks:
        metrics = ", ".join(dict.fromkeys(m.split("/")[0] for m, _ in c["columns"]))
        c["title"] = f"{c['group']} cosmologies: {metrics}" if across else metrics
        c["cols"] = [f"{m}:{s}" for m, s in c["columns"]]
    return chunks


def _cell(x: Any) -> dict[str, Any]:
    """A metric cell: its text, the value it sorts by, and whether it is flagged."""
    if isinstance(x, dict):  # a verdict across cosmologies
        return x
    if isinstance(x, tuple):
        value, floor, flag, mult = x
        times = times_text(mult, " floor")
        # sorted by the multiple of the floor (signed for one-sided rows), so ascending puts the best first
        return {"value": fmt(value), "times": times, "sort": fmt(mult) if np.isfinite(mult) else "", "flag": flag}
    return {"value": x or "—", "times": "", "sort": "", "flag": False}


def _header(entries: list[Scored], columns: list[tuple[str, str]], common: list[str]) -> dict[str, Any]:
    info = entries[0].info
    values = lambda key: ", ".join(dict.fromkeys(str(e.info.get(key)) for e in entries))  # noqa: E731
    floors = {}
    for metric, stat in columns:
        f = [
            float(r["floor"])
            for e in entries
            for _, r in e.scores[(e.scores["metric"] == metric) & (e.scores["statistic"] == stat)].iterrows()
            if bool(r["summary"]) and np.isfinite(float(r["floor"]))
        ]
        # one floor when every score shares the settings (the null does not depend on the model), else the range
        same = f and np.allclose(f, f[0], rtol=1e-9, atol=0)
        floors[f"{metric}:{stat}"] = (fmt(f[0]) if same else f"{fmt(min(f))} – {fmt(max(f))}") if f else "—"
    name, digest = entries[0].dataset
    return {
        "dataset": name,
        "hash": digest,
        "geometry": f"{info.get('npix')}² κ maps over {info.get('side_deg')}°",
        "n": values("n"),
        "split_seed": values("split_seed"),
        "seed": values("seed"),
        "alpha": ", ".join(
            dict.fromkeys(fmt((e.info.get("calibration") or {}).get("alpha", float("nan"))) for e in entries)
        ),
        "ranked_on": common,
        "floors": floors,
        "floor_label": "real-vs-real floor",
        "across": None,
    }


def _across_header(entries: list[Scored], columns: list[tuple[str, str]], common: list[str]) -> dict[str, Any]:
    """``_header`` of a table across cosmologies: its second header row counts the cosmologies of each group."""
    header = _header(entries, columns, common)
    counts = {}
    verdicts = [_by_column(e.across) for e in entries]
    for key, group in columns:
        n = sorted({int(v[(key, group)].cosmologies) for v in verdicts if (key, group) in v})
        counts[f"{key}:{group}"] = ", ".join(f"{k} cosmologies" for k in n) or "—"
    params = ", ".join(dict.fromkeys(", ".join(e.info.get("parameters") or []) for e in entries))
    return {
        **header,
        "n": ", ".join(dict.fromkeys(str(e.info.get("n") or "all validation") for e in entries)),
        "floors": counts,
        "floor_label": "cosmologies per verdict",
        "across": f"scored at every cosmology of the dataset (parameters {params}); a cell is the verdict across "
        "the training or the held-out cosmologies (Fisher's combination of the per-cosmology p-values), with how many "
        "cosmologies were flagged alone and the combined p-value",
    }


def _by_column(table: pd.DataFrame) -> dict[tuple[str, str], Any]:
    """The rows of a table of verdicts across cosmologies by column: ("metric/aspect", group) → row."""
    return {(f"{x.metric}/{x.aspect}", GROUPS.get(x.cosmology, x.cosmology)): x for x in table.itertuples()}


def leaderboard(paths: list[str | os.PathLike], out: str | os.PathLike) -> pd.DataFrame:
    """Read score folders and write, under ``out`` (replaced as a whole), one ranked table per dataset:
    leaderboard.md, leaderboard.html (sortable, plots embedded), leaderboard.csv (long: one row per model and
    headline statistic), plots/*.png and leaderboard.json. Returns the tables stacked, with a dataset column."""
    if not paths:
        raise EmubenchError("no score reports given")
    out = Path(out)
    folders = [Path(p) for p in paths]
    check_out(folders, out)
    entries = []
    for p in folders:
        scores, curves, info = read_scored(p)
        label = str(info.get("label") or info.get("model") or p.name)
        entries.append(Scored(p, label, scores, curves, info, resolve(info, scores, curves)))
    groups: dict[tuple[str, str, bool], list[Scored]] = {}
    for e in entries:
        groups.setdefault((*e.dataset, e.across is not None), []).append(e)

    sections, tables, long_rows, md = [], [], [], ["# emubench leaderboard", "", INTRO]
    plot_files: dict[str, bytes] = {}
    for (name, digest, across), group in groups.items():
        _labels(group)
        table, columns, common = (_across_table if across else _table)(group)
        header = (_across_header if across else _header)(group, columns, common)
        key = slug(f"{name}-{digest}")
        figures = [] if across else _overlays(group, key, plot_files)  # across: per-cosmology curves are in reports
        rows = _rows(table, columns, out)
        long_rows += _long_rows(table, columns, name, digest)
        chunks = _chunks(columns, across)
        sections.append(
            {
                **header,
                "ranked": [r for r in rows if not r["disqualified"]],
                "disqualified": [r for r in rows if r["disqualified"]],
                "rows": rows,
                "chunks": chunks,
                "figures": [
                    (title, b64, wide(b64), f"{file}.pdf" if b64.pdf else None) for title, b64, file in figures
                ],
                "slug": key,
                "other_flags": any(r["other flags"] for r in rows),
            }
        )
        tables.append(table.assign(dataset=name, dataset_hash=digest))
        md += _markdown_section(header, chunks, rows, [(title, file, bool(b64.pdf)) for title, b64, file in figures])

    with atomic_folder(out) as work:
        write_text(work / "leaderboard.md", "\n".join(md) + "\n")
        page = environment().get_template("leaderboard.html.j2").render(title="emubench leaderboard", sections=sections)
        write_text(work / "leaderboard.html", page)
        write_text(work / "leaderboard.csv", pd.DataFrame(long_rows).to_csv(index=False))
        for file, data in plot_files.items():
            write_bytes(work / file, data)
        write_json(
            work / MARKER,
            {
                "emubench_leaderboard": 1,
                "tables": [
                    {"dataset": s["dataset"], "dataset_hash": s["hash"], "models": [r["model"] for r in s["rows"]]}
                    for s in sections
                ],
            },
        )
    return pd.concat(tables, ignore_index=True)


def _overlays(group: list[Scored], key: str, plot_files: dict[str, bytes]) -> list[tuple[str, str, str]]:
    """Every model's curves over the real ones, one figure per declared plot: (title, base64 PNG, file stem
    under plots/); the PNG and its PDF copy are added to ``plot_files``."""
    display: dict[str, Display] = {}
    for e in group:
        for k, d in e.display.items():
            display.setdefault(k, d)
    curves = [e.curves.assign(model=e.label) for e in group if len(e.curves)]
    if not curves:
        return []
    n = int(group[0].info["n"]) if group[0].info.get("n") else None
    out = []
    for figs in metric_figures(display, pd.concat(curves), n, group[0].info).values():
        for title, b64 in figs:
            file = f"plots/{key}-{slug(title)}"
            plot_files[f"{file}.png"] = base64.b64decode(b64)
            if b64.pdf:  # the vector copy, for a paper
                plot_files[f"{file}.pdf"] = b64.pdf
            out.append((title, b64, file))
    return out


def _rows(table: pd.DataFrame, columns: list[tuple[str, str]], out: Path) -> list[dict[str, Any]]:
    """The ranked table's rows as the pages show them: rank and severity as text, a cell per
    headline column, and the relative link to the model's report (so the leaderboard and the reports move
    together, to another folder or a web server)."""
    cols = [f"{m}:{s}" for m, s in columns]
    rows = []
    for r in table.to_dict("records"):
        report = Path(r["folder"]) / "report.html"
        rows.append(
            {
                **r,
                "rank": "—" if pd.isna(r["rank"]) else int(r["rank"]),
                "severity_text": f"{r['severity']:.2f}",
                "cells": {c: _cell(r[c]) for c in cols},
                "link": os.path.relpath(report, out).replace(os.sep, "/") if report.exists() else None,
            }
        )
    return rows


def _long_rows(table: pd.DataFrame, columns: list[tuple[str, str]], name: str, digest: str) -> list[dict[str, Any]]:
    """leaderboard.csv's rows of one table: one per model and headline column, with its rank and cost."""
    out = []
    for r in table.to_dict("records"):
        for metric, stat in columns:
            c = r[f"{metric}:{stat}"]
            row = {
                "dataset": name,
                "dataset_hash": digest,
                "model": r["model"],
                "folder": r["folder"],
                "rank": r["rank"],
                "disqualified": r["disqualified"],
                "flags": r["flags"],
                "severity": r["severity"],
                **{f"cost_{k}": v for k, v in r["cost"].items()},
                "metric": metric,
                "statistic": stat,
                "cosmologies": "",
                "value": c[0] if isinstance(c, tuple) else np.nan,
                "floor": c[1] if isinstance(c, tuple) else np.nan,
                "flagged": c[2] if isinstance(c, tuple) else False,
                "scored": c != "not scored",
            }
            if isinstance(c, dict):  # across cosmologies: metric/aspect, group, the group's combined p-value
                m, aspect = metric.split("/", 1)
                row |= {"metric": m, "statistic": aspect, "cosmologies": stat, "value": c["p_value"]}
                row |= {"flagged": c["flag"]}
            out.append(row)
    return out


def _markdown_section(
    header: dict, chunks: list[dict], rows: list[dict], files: list[tuple[str, str, bool]]
) -> list[str]:
    """One dataset's section of leaderboard.md: the ranking, the disqualified models, the headline tables, the
    overlay plots (``files``: title, file stem under plots/, whether its PDF copy was written)."""
    md = [
        "",
        f"## Dataset `{header['dataset']}` (hash `{header['hash']}`)"
        + (", scored across cosmologies" if header["across"] else ""),
        "",
        f"{header['geometry']}; {header['n']} maps per set; split seed {header['split_seed']}; sample seed "
        f"{header['seed']}; false-positive rate of a whole score {header['alpha']}. Ranked on: "
        f"{', '.join(header['ranked_on']) or 'no metric every model was scored with'}."
        + (f" {header['across'][0].upper()}{header['across'][1:]}." if header["across"] else ""),
    ]
    name = lambda r: f"[{r['model']}]({r['link']})" if r["link"] else r["model"]  # noqa: E731
    for title, group in (("Ranking", False), (DISQUALIFIED, True)):
        chosen = [r for r in rows if r["disqualified"] == group]
        if not chosen:
            continue
        md += ["", f"### {title}", ""]
        md += [
            "| rank | model | flags | severity | flagged | other flags (not ranked) | parameters | training | "
            "sampling |"
        ]
        md += ["|---" * 9 + "|"]
        md += [
            f"| {r['rank']} | {name(r)} | {r['flags']} | {r['severity_text']} | {r['flagged'] or 'none'} | "
            f"{r['other flags'] or '—'} | {r['cost']['parameters']} | {r['cost']['training']} | "
            f"{r['cost']['sampling']} |"
            for r in chosen
        ]
    for chunk in chunks:
        keys = chunk["cols"]
        heads = [k.split(":", 1)[0] if header["across"] else k for k in keys]
        md += ["", f"### {chunk['title']}", "", "| model | " + " | ".join(heads) + " |", "|---" * (1 + len(keys)) + "|"]
        md.append(f"| *{header['floor_label']}* | " + " | ".join(header["floors"][k] for k in keys) + " |")
        for r in rows:
            cells = [r["cells"][k] for k in keys]
            texts = [c["value"] + (f" ({c['times']})" if c["times"] else "") for c in cells]
            marked = [(f"**{t}** ⚑" if c["flag"] else t).replace("|", "\\|") for t, c in zip(texts, cells)]
            md.append(f"| {r['model']}{' (disqualified)' if r['disqualified'] else ''} | " + " | ".join(marked) + " |")
    md += [f"\n![{title}]({file}.png)" + (f" ([PDF]({file}.pdf))" if pdf else "") for title, file, pdf in files]
    return md


DISQUALIFIED = "Disqualified: flagged as copies of training maps (memorisation), not ranked"
