"""Training to a wall-clock budget: when to stop, and how many steps the learning-rate schedule should plan for.

A run given `minutes` should end annealed when the time is up, whatever the machine's speed. So the schedule's
length is not fixed in advance: before every step the budget measures the pace so far (seconds per step, counting
validation and saving between epochs) and says how many more steps the remaining time holds, keeping back what the
last epoch's validation and saving took, since the run's final epoch will need that again. The cosine runs over that
estimate, which settles after a few steps, and training stops when not one more step fits.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable


class TimeBudget:
    """`seconds` of wall time from `started` (a reading of `clock`); None for no limit. `spent` is time already used
    by the same run before a resume."""

    def __init__(self, seconds: float | None, started: float, *, spent: float = 0.0,
                 clock: Callable[[], float] = time.perf_counter) -> None:
        self.seconds = seconds
        self.clock = clock
        self.origin = started - spent
        self._paced_from: float | None = None
        self._steps = 0
        self._closing = 0.0

    def elapsed(self) -> float:
        """Seconds of the run so far, including those spent before a resume."""
        return self.clock() - self.origin

    def seconds_left(self) -> float | None:
        return None if self.seconds is None else max(0.0, self.seconds - self.elapsed())

    def steps_left(self) -> float:
        """How many more steps fit in the budget at the pace measured so far: infinite without a budget or before
        the first step has been timed."""
        if self.seconds is None:
            return math.inf
        now = self.clock()
        if self._paced_from is None:  # the pace is timed from the first question on, before the first step
            self._paced_from = now
        remaining = self.seconds - (now - self.origin) - self._closing
        if remaining <= 0:
            return 0
        if not self._steps:
            return math.inf
        return math.floor(remaining * self._steps / (now - self._paced_from))

    def step_done(self) -> None:
        self._steps += 1

    def closing_took(self, seconds: float) -> None:
        """What the work after an epoch took (validation, saving): kept back from now on for the final one's."""
        self._closing = seconds
