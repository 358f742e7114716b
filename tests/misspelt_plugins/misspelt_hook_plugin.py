"""A plugin whose hook name is misspelt (register_model for register_models): reported, not silently ignored."""

from emubench import hookimpl


@hookimpl
def register_model(register):
    raise AssertionError("a hook emubench does not have is never called")
