"""Hook specifications: one per extension point. The full contract of each is in docs/plugins.md."""

import pluggy

hookspec = pluggy.HookspecMarker("emubench")


@hookspec
def register_datasets(register):
    """Register dataset classes: ``register(DatasetClass)``."""


@hookspec
def register_models(register):
    """Register model (emulator) classes: ``register(ModelClass)``."""


@hookspec
def register_trainers(register):
    """Register trainer classes: ``register(TrainerClass)``."""


@hookspec
def register_metrics(register):
    """Register metric classes: ``register(MetricClass)``."""


@hookspec
def register_commands(cli):
    """Add click commands to the ``emubench`` command group."""
