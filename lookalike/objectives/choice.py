"""Choosing an objective by name, with its settings, as the CLI and a saved run describe it. What each objective
declares (its settings, views, head, training defaults) lives in its registered spec (see registry.py)."""

from __future__ import annotations

from lookalike.models import Encoder
from lookalike.objectives.base import Objective
from lookalike.objectives.registry import Settings, checked_settings, objective_spec
from lookalike.views import PlainView, ViewRecipe


class ObjectiveChoice:
    """An objective and its settings, e.g. ``ObjectiveChoice("triplet", mining="hard")``: settings not given take
    the objective's defaults, and a setting the objective does not have is refused."""

    def __init__(self, name: str = "triplet", **settings: object) -> None:
        self.spec = objective_spec(name)
        self.settings: Settings = checked_settings(self.spec, settings)

    @classmethod
    def from_options(cls, name: str, **options: object) -> ObjectiveChoice:
        """The choice a command line made: options left at None were not given, so the defaults apply."""
        return cls(name, **{key: value for key, value in options.items() if value is not None})

    @property
    def name(self) -> str:
        return self.spec.name

    def __repr__(self) -> str:
        return f"ObjectiveChoice({', '.join([repr(self.name), *(f'{k}={v!r}' for k, v in self.settings.items())])})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ObjectiveChoice) and self.describe() == other.describe()

    def __hash__(self) -> int:
        return hash(tuple(sorted(self.describe().items())))

    @property
    def default_views(self) -> str:
        return self.spec.views

    @property
    def default_head(self) -> tuple[int, ...]:
        return self.spec.head

    @property
    def default_embed_from(self) -> str:
        return self.spec.embed_from

    @property
    def default_training(self) -> dict:
        """TrainSettings that differ from the seed's (Adam at 1e-4, batch 8)."""
        return dict(self.spec.training)

    def views(self, augmented: ViewRecipe) -> tuple[ViewRecipe, ViewRecipe]:
        """The two views per image: both augmented, or the plain image and an augmented view, as the seed does."""
        return (augmented, augmented) if self.spec.augments_both else (PlainView(), augmented)

    @property
    def encoder_pair_head(self) -> str | None:
        """The pair head the encoder must carry for this objective (saved with it), if any."""
        return self.spec.pair_head(self.settings)

    def build(self, encoder: Encoder) -> Objective:
        return self.spec.build(encoder, self.settings)

    def describe(self) -> dict:
        """The objective and its settings, for logs, the model's origin and resuming."""
        return {"name": self.name, **self.settings}
