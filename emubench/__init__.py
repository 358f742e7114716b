"""emubench: a plugin-based benchmark harness for generative emulators of cosmological maps.

Map from data to report:
    emubench.data      datasets (embedded lognormal ΛCDM κ maps, CosmoGAN .npy files), splits, transforms
    emubench.models    how a model is found from what the user typed; baselines in emubench.baselines
    emubench.runs      run folders written by trainers (manifest, checkpoints, lock)
    emubench.stats     one implementation of every statistic (power spectrum, Minkowski, peaks, pdf, neighbours)
    emubench.metrics   metric plugins comparing generated with real maps against a real-vs-real null
    emubench.scoring   runs the metrics on a model's samples and returns a tidy pandas table
    emubench.report    writes the table as CSV/Markdown/HTML with plots, and the leaderboard

The public API, for plugins and scripts, is what this package exports (``__all__``) plus ``emubench.stats``;
the contracts are the Protocols of ``emubench.contracts``; docs/plugins.md documents all of it. Everything else
is internal and may change. Names load on first use, so ``import emubench`` stays cheap.
"""

from __future__ import annotations

import pluggy

from ._lazy import lazy_exports

__version__ = "0.1.0"

hookimpl = pluggy.HookimplMarker("emubench")

_WHERE = {
    "EmubenchError": "errors",
    "MapSet": "data.base",
    "split": "data.base",
    "open_dataset": "data",
    "get_transform": "data.transforms",
    "Context": "metrics.base",
    "FeatureMetric": "metrics.base",
    "row": "metrics.base",
    "calibrate": "metrics.base",
    "compare_curves": "metrics.base",
    "curve_records": "metrics.base",
    "clopper_pearson": "metrics.base",
    "min_draws": "metrics.base",
    "NullDraws": "metrics.null",
    "MetricResult": "contracts",
    "Plot": "contracts",
    "CURVE_FIELDS": "contracts",
    "Dataset": "contracts",
    "GeneratorDataset": "contracts",
    "Model": "contracts",
    "TrainedModel": "contracts",
    "Trainer": "contracts",
    "TrainRequest": "contracts",
    "Metric": "contracts",
    "RunFolder": "runs",
    "StopOnSignal": "training",
    "training_folder": "training",
    "resume_point": "training",
    "check_time_budget": "training",
    "budget_left": "training",
    "fit_cosmogan_transform": "training",
    "fit_sample": "training",
    "grid_png": "training",
    "grid_params": "training",
    "validation_cosmologies": "training",
    "validate_generator": "training",
    "conditioning": "training",
    "scale_params": "training",
    "Bar": "progress",
    "say": "progress",
    "score": "scoring",
    "validate": "scoring",
}

__all__ = ["hookimpl", "__version__", *_WHERE]


__getattr__, __dir__ = lazy_exports(__name__, _WHERE, globals())
