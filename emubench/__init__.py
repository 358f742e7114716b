"""emubench: a plugin-based benchmark harness for generative emulators of cosmological maps.

Map from data to report:
    emubench.data      datasets (embedded lognormal ΛCDM κ maps, CosmoGAN .npy files), splits, transforms
    emubench.models    the model contract; trained models (plugins/) and training-free baselines (emubench.baselines)
    emubench.stats     one implementation of every statistic (power spectrum, Minkowski, peaks, pdf, neighbours)
    emubench.metrics   metric plugins comparing generated with real maps against a real-vs-real noise floor
    emubench.scoring   runs the metrics on a model's samples and returns a tidy pandas table
    emubench.report    writes the table as CSV/Markdown/HTML with plots, and the leaderboard
"""

import pluggy

__version__ = "0.1.0"

hookimpl = pluggy.HookimplMarker("emubench")

__all__ = ["hookimpl", "__version__"]
