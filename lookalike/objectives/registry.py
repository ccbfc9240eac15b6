"""The objectives a run can choose by name: a flat table of small specs, one registered by each objective's module.

A spec says what the objective needs and what it trains best with, as data: its settings and their defaults, how to
check them, the views, head, embedding layer and training settings it suits, whether its encoder carries a pair head,
and how to build it. A new objective is one module that defines its loss and calls `register_objective`; the CLI,
`train_folder` and resuming a run find it here.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from lookalike.errors import LookalikeError
from lookalike.registry import Registry

if TYPE_CHECKING:
    from lookalike.models import Encoder
    from lookalike.objectives.base import Objective

Settings = Mapping[str, Any]
"""An objective's settings by name: JSON values (numbers, strings), checked by its spec."""


def _no_check(settings: Settings) -> None:
    """Settings that need no check beyond their names."""


@dataclass(frozen=True)
class ObjectiveSpec:
    """What one objective declares."""

    name: str
    summary: str
    """What it does, in a few words, for --help."""
    build: Callable[[Encoder, Settings], Objective]
    """The objective for an encoder built with this spec's head and pair head, under checked settings."""
    settings: Settings = field(default_factory=dict)
    """Each setting with its default; a choice may give only these."""
    check: Callable[[Settings], None] = _no_check
    """Raises `LookalikeError` for a value that cannot work (the names are checked already)."""
    views: str = "seed"
    """The view recipe it trains best with, by name (see lookalike.views)."""
    augments_both: bool = False
    """Whether both views are augmented (SimCLR), or the plain image is compared with one augmented view (the
    seed's triplets and pairs)."""
    head: tuple[int, ...] = (512, 256, 256)
    embed_from: str = "head"
    """The layer search reads: "head", or "backbone" when the head only serves the loss."""
    training: Settings = field(default_factory=dict)
    """The TrainSettings it needs that differ from the seed's (Adam at 1e-4, batch 8)."""
    pair_head: Callable[[Settings], str | None] = lambda settings: None
    """The pair head its encoder must carry, if any, from its settings."""
    learns_identities: bool = False
    """Whether it can train by identity labels (its forward takes `identities`): positives are other images of the
    same identity, not only views of the same image."""


_OBJECTIVES: Registry[ObjectiveSpec] = Registry("objective")


def register_objective(spec: ObjectiveSpec) -> ObjectiveSpec:
    """Make `spec` choosable by its name; a name is registered once."""
    return _OBJECTIVES.register(spec.name, spec)


def objective_spec(name: str) -> ObjectiveSpec:
    """The spec registered as `name`; an unknown name is the user's error, listing the known ones."""
    return _OBJECTIVES[name]


def objective_names() -> tuple[str, ...]:
    return tuple(_OBJECTIVES)


def objective_help() -> str:
    """Every registered objective with its summary, for a command's --help."""
    return "; ".join(f"{spec.name}: {spec.summary}" for spec in _OBJECTIVES.values())


def checked_settings(spec: ObjectiveSpec, given: Settings) -> Settings:
    """`given` over the spec's defaults, refusing a setting the objective does not have, then checked."""
    unknown = sorted(set(given) - set(spec.settings))
    if unknown:
        known = ", ".join(spec.settings) or "none"
        raise LookalikeError(f"the {spec.name} objective has no setting {', '.join(unknown)} (its settings: {known})")
    settings = MappingProxyType({**spec.settings, **given})
    spec.check(settings)
    return settings
