"""Plug-ins of one kind by name: every extension point of lookalike (stores, backbones, preprocessing stages,
objectives, miners) is one of these, filled by the modules that define the plug-ins."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Generic, TypeVar

from lookalike.errors import LookalikeError

T = TypeVar("T")


class Registry(Generic[T]):
    """Names to plug-ins of one `kind` ("backbone", "preprocessing stage", ...). A name is registered once; looking
    up an unknown one is the user's error, and says which names there are. Iterating gives the names in the order
    they were registered."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._entries: dict[str, T] = {}

    def register(self, name: str, entry: T) -> T:
        if name in self._entries:
            raise ValueError(f"a {self.kind} named {name!r} is registered already")
        self._entries[name] = entry
        return entry

    def __getitem__(self, name: str) -> T:
        try:
            return self._entries[name]
        except KeyError:
            raise LookalikeError(f"unknown {self.kind} {name!r}; choose one of {', '.join(self._entries)}") from None

    def __delitem__(self, name: str) -> None:
        """Take a plug-in out again (tests do, after registering a toy)."""
        del self._entries[name]

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    def values(self) -> list[T]:
        return list(self._entries.values())
