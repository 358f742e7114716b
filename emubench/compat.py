"""Compatibility with plugins written for emubench before plugin API 1.0, gathered here. Removed in 2.0.

What still works, and where it is handled:

- A metric whose ``evaluate`` returns a plain list of rows and appends its curves to ``ctx.curves``
  (``metric_result``), whose rows lack the keys added since (``aspect``, ``bin``, ``ideal``, ``summary``,
  ``flagged``, ``one_sided``, ``ci_low``/``ci_high``, ``p_value``, ``floor``: ``with_row_defaults``) and which
  declares no ``aspects`` (one verdict, "default": ``scoring.declared_aspects``).
- A trainer whose ``train`` takes the request's fields as keywords (``model=, splits=, …, quiet=``) instead of one
  ``TrainRequest`` (``call_trainer``).
- Manifests written before the schema (no ``manifest_version``): read with only ``model`` required
  (``manifest.validate_manifest``); dataset hashes of version 1, over the first and last 32 maps, are checked
  as such (``MapSet.content_hash(version=1)``).
- The import paths the pre-1.0 docs gave: ``emubench.data.MapSet``, ``emubench.errors.EmubenchError``,
  ``emubench.metrics.Context``/``FeatureMetric``, ``emubench.checkpoint.save_checkpoint``/``load_checkpoint``/
  ``RunLock`` (internal modules that keep those names; new code imports from ``emubench``).

Each use of the first two emits a ``DeprecationWarning`` naming the metric or trainer. ``tests/test_runs.py``
runs a metric, a trainer and a trained model written against the older docs (``tests/legacy_plugins/``).
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from .contracts import MetricResult, TrainRequest

REMOVED_IN = "2.0"

# Row keys added since the first metric contract, with the value an older metric's rows get.
ROW_DEFAULTS: dict[str, Any] = {
    "aspect": "default",
    "bin": np.nan,
    "ideal": np.nan,
    "summary": False,
    "flagged": False,
    "one_sided": False,
    "ci_low": np.nan,
    "ci_high": np.nan,
    "p_value": np.nan,
    "floor": np.nan,
}


def metric_result(out: Any, curves: list[dict], name: str) -> MetricResult:
    """``evaluate``'s return as a ``MetricResult``: a pre-1.0 metric's list of rows, with the curves it appended
    to ``ctx.curves`` (``curves``), is wrapped (and warned about)."""
    if isinstance(out, MetricResult):
        return out
    warnings.warn(
        f"metric {name!r} returns a list of rows: return an emubench.MetricResult (lists are accepted until "
        f"emubench {REMOVED_IN})",
        DeprecationWarning,
        stacklevel=3,
    )
    return MetricResult(list(out), curves)


def with_row_defaults(df: Any) -> Any:
    """The score table ``df`` (pandas) with every column a metric's rows may leave out: older metrics' rows get
    ``ROW_DEFAULTS``, and ``one_sided`` is a plain bool column."""
    for col, value in ROW_DEFAULTS.items():
        if col not in df:
            df[col] = value
    df["one_sided"] = df["one_sided"].fillna(False).astype(bool)
    return df


def call_trainer(trainer: Any, request: TrainRequest) -> Any:
    """``trainer.train(request)``; a pre-1.0 trainer, whose ``train`` takes keywords, gets the request's fields
    (and a warning)."""
    import dataclasses
    import inspect

    params = inspect.signature(trainer.train).parameters
    if "request" in params or not {"model", "splits", "out"} <= set(params):
        return trainer.train(request)
    warnings.warn(
        f"trainer {getattr(trainer, 'name', trainer)!r} takes keywords: take one emubench.TrainRequest "
        f"(keywords are accepted until emubench {REMOVED_IN})",
        DeprecationWarning,
        stacklevel=2,
    )
    return trainer.train(**{f.name: getattr(request, f.name) for f in dataclasses.fields(request)})
