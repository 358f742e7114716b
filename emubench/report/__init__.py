"""Reports: one scored model's folder (tables, plots, an HTML page) and the leaderboard across them.

    display.py      what each metric declares about how it is shown (headline, plots, explanations), defaults
    tables.py       verdict cards, summary rows, the manifest and Markdown tables, as plain data
    plots.py        the figures (matplotlib): declared curve plots with the real-vs-real band, maps, pairs
    pages.py        a score folder: CSV/Parquet, score.json, summary.md and report.html (Jinja2 templates)
    board.py        score folders grouped by dataset, one ranked table and overlay plots per dataset
    templates/      the Jinja2 templates (package data)

Everything upstream returns long, tidy DataFrames; only this package pivots and formats. No metric is named
here: each metric's declarations decide how it is shown.
"""

from __future__ import annotations

from .._lazy import lazy_exports

# Names load on first use: emubench.report.display is imported by cheap checks that must not load pandas or
# matplotlib.
_WHERE = {
    "leaderboard": "board",
    "read_scored": "board",
    "render_report": "pages",
    "summary_markdown": "pages",
    "write_report": "pages",
    "plot_sensitivity": "plots",
    "markdown_table": "tables",
}
__all__ = list(_WHERE)


__getattr__, __dir__ = lazy_exports(__name__, _WHERE, globals())
