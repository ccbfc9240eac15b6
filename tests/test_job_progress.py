import pytest
from fake_clock import FakeClock

from lookalike.job_progress import JobProgress


def test_the_job_weighs_stages_by_their_estimates_and_extrapolates_the_running_one():
    clock, heard = FakeClock(), []
    job = JobProgress({"index": 10, "train": 80, "report": 10}, heard.append, clock=clock)
    job.advance("index", 0.0)
    clock.now = 20  # indexing runs twice as slow as estimated
    job.advance("index", 0.5)
    assert heard[-1].fraction == pytest.approx(5 / 100)
    assert heard[-1].seconds_left == pytest.approx(20 + 80 + 10)  # its own pace, then the other estimates
    job.finish("index")
    assert job.took("index") == pytest.approx(20)

    job.estimate("report", 30)
    clock.now = 30
    job.advance("train", 0.02)  # too little done to measure a pace: the estimate stands
    assert heard[-1].seconds_left == pytest.approx(80 * 0.98 + 30)
    assert heard[-1].stage == "train"


def test_a_counter_turns_items_into_the_stage_share():
    clock, heard = FakeClock(), []
    job = JobProgress({"embed": 50, "report": 50}, heard.append, clock=clock)
    on_plan, on_progress = job.counter("embed")
    on_plan(40)
    on_progress(10)
    on_progress(10)
    assert heard[-1].fraction == pytest.approx(0.25)
    on_progress(20)
    job.finish("embed")
    job.finish("report")
    assert (heard[-1].fraction, heard[-1].seconds_left) == (pytest.approx(1), pytest.approx(0))


def test_a_stage_never_goes_back():
    job = JobProgress({"train": 10}, clock=FakeClock())
    job.advance("train", 0.6)
    job.advance("train", 0.4)
    assert job.status("train").fraction == pytest.approx(0.6)
