"""One progress figure for a job made of stages, so that a single bar can show the whole job and an honest time left.

Each stage weighs what it is expected to take, in seconds. The running stage's time left is extrapolated from its
own elapsed time once it has done enough to measure; stages not yet started keep their estimates, which the job
refines as it learns (the second indexing with a network of the same size takes what the first took).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

_MEASURABLE = 0.05
"""A stage extrapolates from its own pace once it is this far along; before that its estimate stands."""


@dataclass(frozen=True)
class JobStatus:
    stage: str
    fraction: float
    """Of the whole job, 0 to 1."""
    seconds_left: float


class JobProgress:
    """Stages in the order they run, each with its estimated seconds; `report` hears every change."""

    def __init__(self, estimates: dict[str, float], report: Callable[[JobStatus], None] | None = None,
                 clock: Callable[[], float] = time.perf_counter) -> None:
        self._estimates = dict(estimates)
        self._done = dict.fromkeys(estimates, 0.0)
        self._started: dict[str, float] = {}
        self._took: dict[str, float] = {}
        self._report = report
        self._clock = clock

    def estimate(self, stage: str, seconds: float) -> None:
        """A better guess of what a stage not yet finished will take."""
        self._estimates[stage] = seconds
        self._emit(stage)

    def advance(self, stage: str, fraction: float) -> None:
        """`stage` is now `fraction` done (0 to 1); the first report starts its clock."""
        self._started.setdefault(stage, self._clock())
        self._done[stage] = min(max(fraction, self._done[stage]), 1.0)
        self._emit(stage)

    def finish(self, stage: str) -> None:
        self.advance(stage, 1.0)
        self._took[stage] = self._clock() - self._started[stage]

    def took(self, stage: str) -> float:
        """Seconds a finished stage ran."""
        return self._took[stage]

    def counter(self, stage: str) -> tuple[Callable[[int], None], Callable[[int], None]]:
        """(on_plan, on_progress) for an API call that announces a total and then reports items done."""
        counts = {"total": 0, "done": 0}

        def on_plan(total: int) -> None:
            counts.update(total=total, done=0)
            self.advance(stage, 0.0)

        def on_progress(done: int) -> None:
            counts["done"] += done
            self.advance(stage, counts["done"] / counts["total"] if counts["total"] else 1.0)

        return on_plan, on_progress

    def status(self, stage: str) -> JobStatus:
        total = sum(self._estimates.values()) or 1.0
        done = sum(self._estimates[name] * self._done[name] for name in self._estimates)
        left = 0.0
        for name, estimate in self._estimates.items():
            fraction = self._done[name]
            if name in self._started and fraction >= _MEASURABLE and name not in self._took:
                elapsed = self._clock() - self._started[name]
                left += elapsed * (1 - fraction) / fraction
            else:
                left += estimate * (1 - fraction)
        return JobStatus(stage, min(done / total, 1.0), left)

    def _emit(self, stage: str) -> None:
        if self._report is not None:
            self._report(self.status(stage))
