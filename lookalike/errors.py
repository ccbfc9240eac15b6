"""Errors a user can act on.

Anything raised as a ``LookalikeError`` is a problem with the input or the environment, not a bug: the CLI prints its
message on one line and exits with status 2, without a traceback.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from lookalike.data.decode import BadImage


class LookalikeError(Exception):
    """A problem the user can fix; the message says what and where."""


class ModelMismatchError(LookalikeError):
    """Vectors from one model were about to be mixed with vectors from another."""


class WriteFailed(LookalikeError):
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

    def __init__(self, skipped: Sequence[BadImage]) -> None:
        super().__init__(list(skipped))
        self.skipped = list(skipped)

    def __str__(self) -> str:
        count = len(self.skipped)
        return f"none of the {count} image{'s' * (count != 1)} could be read; nothing was done"
