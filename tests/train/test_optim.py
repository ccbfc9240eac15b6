"""The learning-rate schedule and the settings a run is checked against before it starts."""

import math

import pytest

from lookalike.errors import LookalikeError
from lookalike.training import TrainSettings
from lookalike.training.optim import lr_factor
from lookalike.training.settings import EPOCHS_WITHIN_MINUTES


def test_warm_up_rises_linearly_then_the_cosine_falls_to_zero():
    factors = [lr_factor(step, total_steps=10, warmup_steps=2, schedule="cosine") for step in range(10)]
    assert factors[:2] == [0.5, 1.0]
    assert factors[2] == 1.0
    assert factors[6] == pytest.approx(0.5 * (1 + math.cos(math.pi * 4 / 8)))
    assert all(a > b for a, b in zip(factors[2:], factors[3:]))
    assert lr_factor(10, 10, 2, "cosine") == pytest.approx(0.0)


def test_constant_schedule_stays_at_the_base_rate_after_warm_up():
    assert [lr_factor(step, 4, 1, "constant") for step in range(4)] == [1.0, 1.0, 1.0, 1.0]
    assert lr_factor(0, 4, 2, "constant") == 0.5


@pytest.mark.parametrize("change, message", [
    ({"epochs": 0}, "epochs must be at least 1"),
    ({"batch_size": 1}, "batch size must be at least 2"),
    ({"optimizer": "lamb"}, "unknown optimizer 'lamb'"),
    ({"lr": 0}, "learning rate must be a positive finite number"),
    ({"lr": float("inf")}, "learning rate must be a positive finite number, got inf"),
    ({"schedule": "step"}, "unknown schedule"),
    ({"warmup_epochs": 20}, "warm-up must be between 0 and 10"),
    ({"precision": "int8"}, "unknown precision"),
    ({"minutes": 0}, "minutes must be a positive finite number"),
    ({"minutes": float("inf")}, "minutes must be a positive finite number"),
])
def test_bad_settings_are_refused_with_a_reason(change, message):
    with pytest.raises(LookalikeError, match=message):
        TrainSettings(**change)


def test_settings_round_trip_through_a_dict():
    settings = TrainSettings(epochs=3, optimizer="sgd", lr=0.05, warmup_epochs=1)
    assert TrainSettings.from_dict(settings.to_dict()) == settings
    with pytest.raises(LookalikeError, match="unknown training settings: colour"):
        TrainSettings.from_dict({**settings.to_dict(), "colour": 1})


def test_minutes_without_epochs_let_the_time_alone_decide():
    assert TrainSettings.with_defaults({}, minutes=5).epochs == EPOCHS_WITHIN_MINUTES
    assert TrainSettings.with_defaults({}, minutes=5, epochs=3).epochs == 3
    assert TrainSettings.with_defaults({"epochs": 4}).epochs == 4
