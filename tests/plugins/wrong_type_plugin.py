"""A plugin that registers something without a name."""

from emubench import hookimpl


@hookimpl
def register_datasets(register):
    register(42)
