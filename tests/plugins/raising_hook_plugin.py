"""A plugin whose hook raises."""

from emubench import hookimpl


@hookimpl
def register_metrics(register):
    raise RuntimeError("this metric plugin is broken on purpose")
