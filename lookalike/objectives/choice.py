"""Choosing an objective by name, as the CLI and a saved run describe it, and the views each one trains on."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from lookalike.errors import LookalikeError
from lookalike.models import Encoder
from lookalike.models.pair_head import PAIR_HEADS
from lookalike.objectives.base import Objective
from lookalike.objectives.miners import MINERS, make_miner
from lookalike.objectives.pair import PairObjective
from lookalike.objectives.triplet import DEFAULT_MARGIN, TripletObjective

OBJECTIVES = ("triplet", "pair")


@dataclass(frozen=True)
class ObjectiveChoice:
    """An objective and its settings. `mining` and `margin` apply to triplets, `pair_head` to pairs."""

    name: str = "triplet"
    mining: str = "semihard"
    margin: float = DEFAULT_MARGIN
    pair_head: str = "l1"

    def __post_init__(self) -> None:
        if self.name not in OBJECTIVES:
            raise LookalikeError(f"unknown objective {self.name!r}; choose one of {', '.join(OBJECTIVES)}")
        if self.mining not in MINERS:
            raise LookalikeError(f"unknown mining {self.mining!r}; choose one of {', '.join(MINERS)}")
        if self.margin < 0:
            raise LookalikeError(f"the margin must be 0 or more, got {self.margin}")
        if self.pair_head not in PAIR_HEADS:
            raise LookalikeError(f"unknown pair head {self.pair_head!r}; choose one of {', '.join(PAIR_HEADS)}")

    @property
    def encoder_pair_head(self) -> str | None:
        """What the encoder must carry for this objective: the pair objective trains a head that is saved with it."""
        return self.pair_head if self.name == "pair" else None

    def build(self, encoder: Encoder) -> Objective:
        if self.name == "pair":
            if encoder.pair_head is None:
                raise LookalikeError("the pair objective needs an encoder built with a pair head")
            return PairObjective(encoder.pair_head)
        return TripletObjective(make_miner(self.mining), self.margin)

    def describe(self) -> dict:
        """The settings that matter for this objective, for logs and the model's origin."""
        data = asdict(self)
        if self.name == "pair":
            del data["mining"], data["margin"]
        else:
            del data["pair_head"]
        return data
