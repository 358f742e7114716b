"""The trainer contract, and finding the trainer of a model.

A trainer plugin is a class with ``name``, ``description``, ``models`` (names of the models it trains),
``presets`` (name -> dict of config overrides), ``default_preset``, and:

- ``make_config(preset, overrides) -> dict``: the preset merged with overrides; unknown preset or key is an error.
- ``train(request: TrainRequest) -> Path``: trains and writes a run folder (checkpoints, manifest with
  everything needed to rebuild the model, logs). The contract: ``emubench.contracts.Trainer``.
"""

from __future__ import annotations

from .errors import EmubenchError
from .registry import get_registry


def find_trainer(model: str):
    """An instance of the trainer registered for ``model``."""
    models = get_registry("models")
    models.get(model)  # unknown model: one-line error with suggestions
    for entry in get_registry("trainers"):
        if model in getattr(entry.obj, "models", ()):
            return entry.obj()
    raise EmubenchError(
        f"model {model!r} has no registered trainer "
        f"(training-free models are scored directly: emubench score --model {model})"
    )
