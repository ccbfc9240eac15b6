"""How a training run goes, independent of what it optimises: one validated value, saved with every checkpoint."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

from lookalike.errors import LookalikeError
from lookalike.runtime import PRECISIONS
from lookalike.training.optim import OPTIMIZERS, SCHEDULES

EPOCHS_WITHIN_MINUTES = 10_000
"""The epoch limit of a run given minutes and no epochs: in effect none, the time decides."""


@dataclass(frozen=True)
class TrainSettings:
    """Defaults follow the seed recipe (Adam at 1e-4, batch 8); the schedule decays the rate along a cosine."""

    epochs: int = 10
    minutes: float | None = None
    """A wall-clock budget for the whole run, decoding included: training stops when it is spent (or after `epochs`,
    whichever comes first), the learning rate annealed over the steps it holds. None: no limit."""
    batch_size: int = 8
    optimizer: str = "adam"
    lr: float = 1e-4
    weight_decay: float = 0.0
    momentum: float = 0.9
    """SGD only."""
    schedule: str = "cosine"
    warmup_epochs: float = 0.0
    """The rate rises linearly from zero over this many epochs before the schedule starts."""
    seed: int = 0
    precision: str = "auto"
    device: str | None = None
    workers: int | None = None
    """Decoding processes for the one-off image cache (None: up to 4)."""
    per_identity: int = 4
    """With identity labels: images of one identity taken together into a batch (FaceNet's K)."""

    def __post_init__(self) -> None:
        checks = [
            (self.epochs >= 1, f"epochs must be at least 1, got {self.epochs}"),
            (self.minutes is None or 0 < self.minutes < math.inf, f"minutes must be a positive finite number, got "
                                                                  f"{self.minutes}"),
            (self.batch_size >= 2, f"batch size must be at least 2 (a batch needs a negative), got {self.batch_size}"),
            (self.optimizer in OPTIMIZERS, f"unknown optimizer {self.optimizer!r}; choose one of "
                                           f"{', '.join(OPTIMIZERS)}"),
            (0 < self.lr < math.inf, f"learning rate must be a positive finite number, got {self.lr}"),
            (0 <= self.weight_decay < math.inf, f"weight decay must be a finite number, 0 or more, got "
                                                f"{self.weight_decay}"),
            (0 <= self.momentum < 1, f"momentum must be in [0, 1), got {self.momentum}"),
            (self.schedule in SCHEDULES, f"unknown schedule {self.schedule!r}; choose one of {', '.join(SCHEDULES)}"),
            (0 <= self.warmup_epochs <= self.epochs, f"warm-up must be between 0 and {self.epochs} epochs, "
                                                     f"got {self.warmup_epochs}"),
            (self.precision in PRECISIONS, f"unknown precision {self.precision!r}; choose one of "
                                           f"{', '.join(PRECISIONS)}"),
            (self.workers is None or self.workers >= 0, f"workers must be 0 or more, got {self.workers}"),
            (self.per_identity >= 2, f"images per identity must be at least 2 (an anchor and its positive), got "
                                     f"{self.per_identity}"),
        ]
        for ok, message in checks:
            if not ok:
                raise LookalikeError(message)

    @classmethod
    def with_defaults(cls, defaults: dict, **given) -> TrainSettings:
        """Settings from `given` where it has a value (not None), else from `defaults` (an objective's own, say),
        else the class defaults; given minutes and no epochs, the minutes alone limit the run."""
        given = {name: value for name, value in given.items() if value is not None}
        if "minutes" in given and "epochs" not in given:
            given["epochs"] = EPOCHS_WITHIN_MINUTES
        return cls(**{**defaults, **given})

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> TrainSettings:
        unknown = set(data) - set(cls.__dataclass_fields__)
        if unknown:
            raise LookalikeError(f"unknown training settings: {', '.join(sorted(unknown))}")
        return cls(**data)
