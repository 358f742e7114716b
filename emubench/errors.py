"""The one exception type the CLI turns into a one-line message."""


class EmubenchError(Exception):
    """A user-facing error: bad input, an unknown name, a corrupt file. Printed as one line by the CLI."""
