"""The leaderboard: score folders grouped by dataset, one ranked table (and overlay plots) per dataset.

Models are ranked only on the metrics every model of their table was scored with: a model scored with one
metric cannot outrank one scored with eight by having had fewer chances to be flagged. Columns are the
headline statistics each metric declares (``emubench.contracts.Metric.headline``).

Scores across cosmologies (a dataset of several, ``emubench score`` on ``lognormal-cosmo-64``) get a table of
their own kind: one column per (metric, aspect) and group of cosmologies (training, held-out), each cell that
group's verdict across its cosmologies and how many cosmologies were flagged on their own; ranked the same way.
"""

from __future__ import annotations

import base64
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..errors import EmubenchError
from ..io import atomic_folder, write_bytes, write_json, write_text
from ..scoring import verdicts
from .display import Display, resolve
from .pages import CURVES, INFO, SCORES, environment, metric_figures, wide
from .tables import fmt, times_floor, times_text

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
            "flagged": "; ".join(f"{a.metric}/{a.aspect}" for a in ranked[ranked["verdict"] == "flag"].itertuples()),
            "other flags": "; ".join(f"{a.metric}/{a.aspect}" for a in other.itertuples()),
            "maps/s": float(e.info.get("throughput_maps_per_s", np.nan) or np.nan),
            "device": e.info.get("device", ""),
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
    table = pd.DataFrame(rows).sort_values(["flags", "model"], kind="stable").reset_index(drop=True)
    return table, columns, common


GROUPS = {"train": "training", "heldout": "held-out"}  # groups of cosmologies of a score across cosmologies


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
    columns.sort(key=lambda c: list(GROUPS.values()).index(c[1]) if c[1] in GROUPS.values() else len(GROUPS))
    rows = []
    for e in entries:
        t = tables[id(e)]
        ranked, other = t[t["metric"].isin(common)], t[~t["metric"].isin(common)]
        label = lambda x: f"{x.metric}/{x.aspect} ({GROUPS.get(x.cosmology, x.cosmology)})"  # noqa: E731
        r: dict[str, Any] = {
            "model": e.label,
            "folder": str(e.folder),
            "flags": int((ranked["verdict"] == "flag").sum()),
            # per group, how many of its ranked verdicts flag (the cells say which: a list would repeat them)
            "flagged": "; ".join(
                f"{GROUPS.get(g, g)}: {int((v['verdict'] == 'flag').sum())} of {len(v)}"
                for g, v in ranked.groupby("cosmology", sort=False)
            ),
            "other flags": "; ".join(label(x) for x in other[other["verdict"] == "flag"].itertuples()),
            "maps/s": float(e.info.get("throughput_maps_per_s", np.nan) or np.nan),
            "device": e.info.get("device", ""),
        }
        verdicts = _by_column(t)
        for key, group in columns:
            x = verdicts.get((key, group))
            if x is None:
                r[f"{key}:{group}"] = "not scored"
                continue
            r[f"{key}:{group}"] = {
                "value": x.verdict,
                "times": f"{x.flagged}/{x.cosmologies} alone, p {float(x.p_value):.2g}",
                "sort": int(x.flagged) + (1000 if x.verdict == "flag" else 0),
                "flag": x.verdict == "flag",
                "p_value": float(x.p_value),
                "cosmologies": int(x.cosmologies),
            }
        rows.append(r)
    table = pd.DataFrame(rows).sort_values(["flags", "model"], kind="stable").reset_index(drop=True)
    return table, columns, common


def _cell(x: Any) -> dict[str, Any]:
    """A metric cell: its text, the value it sorts by, and whether it is flagged."""
    if isinstance(x, dict):  # a verdict across cosmologies
        return x
    if isinstance(x, tuple):
        value, floor, flag, mult = x
        times = times_text(mult, " floor")
        return {"value": fmt(value), "times": times, "sort": fmt(value), "flag": flag}
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


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "-", text).strip("-").lower() or "x"


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

    sections, tables, long_rows, md = [], [], [], ["# emubench leaderboard", ""]
    md.append(
        "One table per dataset (name and content hash). Each cell: value (|value − ideal| as a multiple of its "
        "floor, the difference a row must exceed to be flagged, from real-vs-real null draws); ⚑ marks a flagged "
        "row. `flags` counts flagged (metric, aspect) verdicts over the metrics every model of the table was "
        "scored with, and the table is sorted by it; flags on other metrics are listed but not ranked."
    )
    pngs: dict[str, bytes] = {}
    for (name, digest, across), group in groups.items():
        _labels(group)
        table, columns, common = (_across_table if across else _table)(group)
        header = (_across_header if across else _header)(group, columns, common)
        cols = [f"{m}:{s}" for m, s in columns]
        display: dict[str, Display] = {}
        for e in group:
            for k, d in e.display.items():
                display.setdefault(k, d)
        # overlay plots at one cosmology only (a score across cosmologies has its per-cosmology curves in its report)
        curves = [] if across else [e.curves.assign(model=e.label) for e in group if len(e.curves)]
        n = int(group[0].info["n"]) if group[0].info.get("n") else None
        figures = [f for figs in metric_figures(display, pd.concat(curves), n).values() for f in figs] if curves else []
        slug = _slug(f"{name}-{digest}")
        files = []
        for title, b64 in figures:
            file = f"plots/{slug}-{_slug(title)}.png"
            pngs[file] = base64.b64decode(b64)
            files.append((title, file))
        rows = []
        for r in table.to_dict("records"):
            cells = [_cell(r[c]) for c in cols]
            rows.append({**r, "maps": fmt(r["maps/s"]) if np.isfinite(r["maps/s"]) else "—", "cells": cells})
            for (metric, stat), c in zip(columns, (r[c] for c in cols)):
                row = {
                    "dataset": name,
                    "dataset_hash": digest,
                    "model": r["model"],
                    "folder": r["folder"],
                    "flags": r["flags"],
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
                long_rows.append(row)
        other_flags = any(r["other flags"] for r in rows)
        shown = [(title, b64, wide(b64)) for title, b64 in figures]
        sections.append(
            {**header, "columns": cols, "rows": rows, "figures": shown, "slug": slug, "other_flags": other_flags}
        )
        tables.append(table.assign(dataset=name, dataset_hash=digest))
        md += _markdown_section(header, cols, rows, files)

    with atomic_folder(out) as work:
        write_text(work / "leaderboard.md", "\n".join(md) + "\n")
        page = environment().get_template("leaderboard.html.j2").render(title="emubench leaderboard", sections=sections)
        write_text(work / "leaderboard.html", page)
        write_text(work / "leaderboard.csv", pd.DataFrame(long_rows).to_csv(index=False))
        for file, data in pngs.items():
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


def _markdown_section(header: dict, cols: list[str], rows: list[dict], files: list[tuple[str, str]]) -> list[str]:
    md = [
        "",
        f"## Dataset `{header['dataset']}` (hash `{header['hash']}`)"
        + (", scored across cosmologies" if header["across"] else ""),
        "",
        f"{header['geometry']}; {header['n']} maps per set; split seed {header['split_seed']}; sample seed "
        f"{header['seed']}; false-positive rate of a whole score {header['alpha']}. Ranked on: "
        f"{', '.join(header['ranked_on']) or 'no metric every model was scored with'}."
        + (f" {header['across'][0].upper()}{header['across'][1:]}." if header["across"] else ""),
        "",
        "| model | flags | flagged (metric/aspect) | other flags (not ranked) | maps/s | device | "
        + " | ".join(cols)
        + " |",
        "|---" * (6 + len(cols)) + "|",
        f"| *{header['floor_label']}* | | | | | | " + " | ".join(header["floors"][c] for c in cols) + " |",
    ]
    for r in rows:
        texts = [c["value"] + (f" ({c['times']})" if c["times"] else "") for c in r["cells"]]
        cells = [(f"**{t}** ⚑" if c["flag"] else t).replace("|", "\\|") for t, c in zip(texts, r["cells"])]
        md.append(
            f"| {r['model']} | {r['flags']} | {r['flagged'] or 'none'} | {r['other flags'] or '—'} | {r['maps']} | "
            f"{r['device']} | " + " | ".join(cells) + " |"
        )
    md += [f"\n![{title}]({file})" for title, file in files]
    return md
