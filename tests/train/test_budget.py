"""The time budget on a clock the test moves: the pace it measures, the steps it says are left, time spent before a
resume."""

import math

from fake_clock import FakeClock

from lookalike.training.budget import TimeBudget


def test_without_a_budget_there_is_always_another_step():
    clock = FakeClock()
    budget = TimeBudget(None, 0.0, clock=clock)
    clock.now = 1e6
    assert budget.steps_left() == math.inf and budget.seconds_left() is None


def test_the_steps_left_follow_the_pace_measured_so_far():
    clock = FakeClock()
    budget = TimeBudget(10.0, 0.0, clock=clock)
    assert budget.steps_left() == math.inf  # nothing timed yet
    for _ in range(3):
        clock.now += 1.0
        budget.step_done()
    assert budget.steps_left() == 7
    clock.now += 5.0  # a slow step (validation, say) slows the pace to 2 s a step
    budget.step_done()
    assert budget.steps_left() == 1 and budget.seconds_left() == 2.0
    clock.now = 9.5
    assert budget.steps_left() == 0
    clock.now = 11.0
    assert budget.steps_left() == 0 and budget.seconds_left() == 0.0


def test_time_spent_before_a_resume_counts():
    clock = FakeClock()
    clock.now = 100.0
    budget = TimeBudget(60.0, 100.0, spent=45.0, clock=clock)
    assert budget.elapsed() == 45.0 and budget.seconds_left() == 15.0


def test_the_time_the_last_epoch_closing_took_is_kept_back():
    clock = FakeClock()
    budget = TimeBudget(10.0, 0.0, clock=clock)
    budget.steps_left()
    clock.now = 2.0
    budget.step_done()
    budget.closing_took(3.0)
    assert budget.steps_left() == 2  # 8 s remain, 3 of them kept back, at 2 s a step
