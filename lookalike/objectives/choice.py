"""Choosing an objective by name, as the CLI and a saved run describe it, and the views each one trains on."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

from lookalike.errors import LookalikeError
from lookalike.models import Encoder
from lookalike.models.pair_head import PAIR_HEADS
from lookalike.objectives.base import Objective
from lookalike.objectives.miners import MINERS, make_miner
from lookalike.objectives.ntxent import DEFAULT_TEMPERATURE, NTXentObjective
from lookalike.objectives.pair import PairObjective
from lookalike.objectives.triplet import DEFAULT_MARGIN, TripletObjective
from lookalike.views import PlainView, ViewRecipe

OBJECTIVES = ("triplet", "pair", "simclr")


@dataclass(frozen=True)
class ObjectiveChoice:
    """An objective and its settings. `mining` and `margin` apply to triplets, `pair_head` to pairs,
    `temperature` to SimCLR."""

    name: str = "triplet"
    mining: str = "semihard"
    margin: float = DEFAULT_MARGIN
    pair_head: str = "l1"
    temperature: float = DEFAULT_TEMPERATURE

    def __post_init__(self) -> None:
        if self.name not in OBJECTIVES:
            raise LookalikeError(f"unknown objective {self.name!r}; choose one of {', '.join(OBJECTIVES)}")
        if self.mining not in MINERS:
            raise LookalikeError(f"unknown mining {self.mining!r}; choose one of {', '.join(MINERS)}")
        if not 0 <= self.margin < math.inf:
            raise LookalikeError(f"the margin must be a finite number, 0 or more, got {self.margin}")
        if self.pair_head not in PAIR_HEADS:
            raise LookalikeError(f"unknown pair head {self.pair_head!r}; choose one of {', '.join(PAIR_HEADS)}")
        if not 0 < self.temperature < math.inf:
            raise LookalikeError(f"the temperature must be a finite number above 0, got {self.temperature}")

    # What each objective trains best with, when the user does not say. SimCLR's head is a 512 -> 512 -> 128
    # projection seen only by the loss; search reads the backbone features before it, as SimCLR evaluates.

    @property
    def default_views(self) -> str:
        return "simclr" if self.name == "simclr" else "seed"

    @property
    def default_head(self) -> tuple[int, ...]:
        return (512, 128) if self.name == "simclr" else (512, 256, 256)

    @property
    def default_embed_from(self) -> str:
        return "backbone" if self.name == "simclr" else "head"

    @property
    def default_training(self) -> dict:
        """TrainSettings that differ from the seed's (Adam at 1e-4, batch 8): NT-Xent needs many negatives, so
        SimCLR takes batches of 256 with AdamW at 1e-3 after a one-epoch warm-up."""
        if self.name == "simclr":
            return {"batch_size": 256, "optimizer": "adamw", "lr": 1e-3, "weight_decay": 1e-6, "warmup_epochs": 1.0}
        return {}

    def views(self, augmented: ViewRecipe) -> tuple[ViewRecipe, ViewRecipe]:
        """The two views per image: SimCLR augments both; triplets and pairs compare the plain image with one
        augmented view, as the seed does."""
        return (augmented, augmented) if self.name == "simclr" else (PlainView(), augmented)

    @property
    def encoder_pair_head(self) -> str | None:
        """What the encoder must carry for this objective: the pair objective trains a head that is saved with it."""
        return self.pair_head if self.name == "pair" else None

    def build(self, encoder: Encoder) -> Objective:
        if self.name == "pair":
            if encoder.pair_head is None:
                raise LookalikeError("the pair objective needs an encoder built with a pair head")
            return PairObjective(encoder.pair_head)
        if self.name == "simclr":
            return NTXentObjective(self.temperature)
        return TripletObjective(make_miner(self.mining), self.margin)

    def describe(self) -> dict:
        """The settings that matter for this objective, for logs and the model's origin."""
        keep = {"triplet": ("mining", "margin"), "pair": ("pair_head",), "simclr": ("temperature",)}[self.name]
        return {key: value for key, value in asdict(self).items() if key == "name" or key in keep}
