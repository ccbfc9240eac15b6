"""Errors a user can act on.

Anything raised as a ``LookalikeError`` is a problem with the input or the environment, not a bug: the CLI prints its
message on one line and exits with status 2, without a traceback.
"""


class LookalikeError(Exception):
    """A problem the user can fix; the message says what and where."""


class ModelMismatchError(LookalikeError):
    """Vectors from one model were about to be mixed with vectors from another."""
