"""A plugin whose hook takes an argument its hook specification does not have."""

from emubench import hookimpl


@hookimpl
def register_metrics(add):
    raise AssertionError("never called: pluggy refuses it at registration")
