"""Hook specifications: one per extension point. The contract of each registered class is a Protocol in
``emubench.contracts``; docs/plugins.md documents both (a test checks that it does)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    import click

    from .contracts import Dataset, Metric, Model, TrainedModel, Trainer

hookspec = pluggy.HookspecMarker("emubench")


@hookspec
def register_datasets(register: Callable[[type[Dataset]], None]) -> None:
    """Register dataset classes: ``register(DatasetClass)`` for each."""


@hookspec
def register_models(register: Callable[[type[Model] | type[TrainedModel]], None]) -> None:
    """Register model (emulator) classes: ``register(ModelClass)`` for each."""


@hookspec
def register_trainers(register: Callable[[type[Trainer]], None]) -> None:
    """Register trainer classes: ``register(TrainerClass)`` for each."""


@hookspec
def register_metrics(register: Callable[[type[Metric]], None]) -> None:
    """Register metric classes: ``register(MetricClass)`` for each."""


@hookspec
def register_commands(cli: click.Group) -> None:
    """Add click commands to the ``emubench`` command group (``@cli.command()``)."""
