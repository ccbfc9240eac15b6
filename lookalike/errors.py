"""Errors a user can act on.

Anything raised as a ``LookalikeError`` is a problem with the input or the environment, not a bug: the CLI prints its
message on one line and exits with status 2, without a traceback, and the web API answers the class's
``http_status`` with the message in words. A programming error (a wrong argument type, an impossible state) is a
``ValueError`` or ``TypeError`` instead, and is never dressed as one of these.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from lookalike.data.decode import BadImage


class LookalikeError(Exception):
    """A problem the user can fix; the message says what and where."""

    http_status = 409
    """What the web API answers: by default, that the gallery cannot do this as it stands."""


class ModelMismatchError(LookalikeError):
    """Vectors from one model were about to be mixed with vectors from another."""


class NotReady(LookalikeError):
    """The gallery cannot answer yet: no τ to decide with, or nobody enrolled."""


class NotEnrolled(LookalikeError):
    """A name that is not an enrolled identity."""

    http_status = 404


class StorageFailed(LookalikeError):
    """Something could not be written (a full disk, say); what was committed before is intact."""

    http_status = 507


class WriteFailed(StorageFailed):
    """A file could not be written (a full disk, no permission, a read-only file system). Writes are atomic, so the
    file is as it was before; callers add what else is still intact."""

    def __init__(self, target: str | Path, reason: str) -> None:
        super().__init__(target, reason)
        self.target = Path(target)
        self.reason = reason

    def __str__(self) -> str:
        return f"cannot write {self.target}: {self.reason}"


class NothingReadable(LookalikeError):
    """Every image a command was given was unusable, so there is no result to give. ``skipped`` holds each file's
    reason (`BadImage`s), for the caller to show before this error."""

    http_status = 400

    def __init__(self, skipped: Sequence[BadImage]) -> None:
        super().__init__(list(skipped))
        self.skipped = list(skipped)

    def __str__(self) -> str:
        count = len(self.skipped)
        return f"none of the {count} image{'s' * (count != 1)} could be read; nothing was done"
