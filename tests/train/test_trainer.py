"""The Trainer on a tiny encoder and a handful of generated images: it learns, it is deterministic, and a resumed
run ends exactly where an uninterrupted one does."""

from __future__ import annotations

import math
from dataclasses import replace

import pytest
import torch
from fake_clock import FakeClock
from imagegen import TINY_CONFIG, write_image_folder

from lookalike.data import find_images
from lookalike.data.cache import cache_images
from lookalike.errors import LookalikeError
from lookalike.models import create_encoder, load_model
from lookalike.models.pair_head import PAIR_HEADS
from lookalike.objectives import MINERS
from lookalike.objectives.choice import ObjectiveChoice
from lookalike.training import TrainSettings, Trainer
from lookalike.training.checkpoint import checkpoint_dir, load_checkpoint
from lookalike.views import PlainView, SeedView

SETTINGS = TrainSettings(epochs=2, batch_size=4, lr=1e-3, seed=3, precision="fp32", workers=0)


@pytest.fixture(scope="module")
def images(tmp_path_factory):
    root = tmp_path_factory.mktemp("train-images")
    write_image_folder(root, classes=3, per_class=4)
    return cache_images(find_images(root), 2 * TINY_CONFIG.image_size, workers=0)


def _trainer(out, settings=SETTINGS, objective=ObjectiveChoice("triplet", mining="hard")) -> Trainer:
    encoder = create_encoder(TINY_CONFIG, seed=settings.seed)
    return Trainer(encoder, objective.build(encoder), PlainView(), SeedView(), settings, out,
                   run_info={"objective": objective.name})


def _weights(trainer: Trainer) -> dict[str, torch.Tensor]:
    return {key: value.clone() for key, value in trainer.encoder.state_dict().items()}


@pytest.mark.parametrize("objective", [ObjectiveChoice("triplet", mining=mining) for mining in MINERS]
                         + [ObjectiveChoice("pair", pair_head=head) for head in PAIR_HEADS], ids=str)
def test_a_few_steps_lower_the_loss_on_a_fixed_batch(images, tmp_path, objective):
    config = replace(TINY_CONFIG, pair_head=objective.encoder_pair_head)
    encoder = create_encoder(config, seed=0)
    trainer = Trainer(encoder, objective.build(encoder), PlainView(), SeedView(), SETTINGS, tmp_path / "m")
    # The seed's rate: at 1e-3, hard mining collapses the embedding on a batch this small.
    losses = [trainer.step(images.pixels[:8], torch.Generator().manual_seed(0), lr=1e-4)[0] for _ in range(15)]
    assert sum(losses[-3:]) / 3 < 0.7 * sum(losses[:3]) / 3


def test_a_run_writes_a_loadable_model_its_log_curves_and_a_checkpoint(images, tmp_path):
    out = tmp_path / "m"
    report = _trainer(out).fit(images.subset(range(9)), images.subset(range(9, 12)))
    assert [row.epoch for row in report.history] == [1, 2]
    assert all(0 <= row.validation["valid_triplet_accuracy"] <= 1 and row.statistics["active"] >= 0
               for row in report.history)
    log = (out / "train_log.csv").read_text().splitlines()
    assert log[0].startswith("epoch,train_loss,") and "valid_triplet_accuracy" in log[0] and len(log) == 3
    assert {"valid_alignment", "valid_uniformity", "valid_effective_rank"} <= set(log[0].split(","))
    assert all(0 <= row.validation["valid_alignment"] <= 4 and -8 <= row.validation["valid_uniformity"] <= 0
               and 1 <= row.validation["valid_effective_rank"] <= 3 for row in report.history)  # 3 images
    assert (out / "curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert load_model(out).origin["training"]["epochs_done"] == 2


def test_same_seed_same_weights(images, tmp_path):
    first = _trainer(tmp_path / "a")
    first.fit(images)
    second = _trainer(tmp_path / "b")
    second.fit(images)
    assert all(torch.equal(a, b) for a, b in zip(_weights(first).values(), _weights(second).values()))


class _Interrupt(Exception):
    pass


def _stop_after_first_epoch(row: dict) -> None:
    if row.epoch == 1:
        raise _Interrupt


@pytest.mark.parametrize("optimizer", ["adam", "sgd"])
def test_a_resumed_run_ends_with_the_same_weights_as_an_uninterrupted_one(images, tmp_path, optimizer):
    settings = TrainSettings(**{**SETTINGS.to_dict(), "optimizer": optimizer, "warmup_epochs": 0.5})
    whole = _trainer(tmp_path / "whole", settings)
    whole.fit(images)

    interrupted = _trainer(tmp_path / "split", settings)
    with pytest.raises(_Interrupt):
        interrupted.fit(images, on_epoch=_stop_after_first_epoch)
    resumed = _trainer(tmp_path / "split", settings)  # a fresh process would start from a fresh encoder too
    report = resumed.fit(images, resume=True)

    assert report.resumed_from_epoch == 1 and [row.epoch for row in report.history] == [1, 2]
    expected, got = _weights(whole), _weights(resumed)
    assert expected.keys() == got.keys()
    assert all(torch.equal(expected[key], got[key]) for key in expected)
    assert torch.equal(load_model(tmp_path / "split").head[0].weight, load_model(tmp_path / "whole").head[0].weight)


def test_resume_refuses_a_damaged_checkpoint(images, tmp_path):
    out = tmp_path / "m"
    _trainer(out, TrainSettings(**{**SETTINGS.to_dict(), "epochs": 1})).fit(images)
    [tensors] = checkpoint_dir(out).glob("state-*.safetensors")
    tensors.write_bytes(tensors.read_bytes()[:-10])
    with pytest.raises(LookalikeError, match="does not match"):
        _trainer(out).fit(images, resume=True)


def test_resume_of_a_finished_run_asks_for_more_epochs(images, tmp_path):
    out = tmp_path / "m"
    _trainer(out).fit(images)
    with pytest.raises(LookalikeError, match="already finished 2 epochs"):
        _trainer(out).fit(images, resume=True)


def test_resume_without_a_checkpoint_says_so(images, tmp_path):
    with pytest.raises(LookalikeError, match="no checkpoint"):
        _trainer(tmp_path / "empty").fit(images, resume=True)


def test_the_pair_objective_trains_the_head_saved_with_the_model(images, tmp_path):
    out = tmp_path / "pair"
    choice = ObjectiveChoice("pair", pair_head="chi2")
    encoder = create_encoder(replace(TINY_CONFIG, pair_head="chi2"), seed=0)
    before = encoder.pair_head.linear.weight.detach().clone()
    report = Trainer(encoder, choice.build(encoder), PlainView(), SeedView(), SETTINGS, out).fit(images)
    assert 0 <= report.history[-1].statistics["pair_accuracy"] <= 1
    model = load_model(out)
    assert model.config.pair_head == "chi2"
    assert not torch.equal(model.pair_head.linear.weight, before)


class _StepClock(FakeClock):
    """A clock that moves one second per training step, so a time budget ends at a known step."""

    def tick(self, progress) -> None:
        self.now += 1.0


def _timed_trainer(out, seconds: float) -> tuple[Trainer, _StepClock]:
    trainer = _trainer(out, TrainSettings.with_defaults(SETTINGS.to_dict(), epochs=None, minutes=seconds / 60))
    trainer.clock = _StepClock()
    return trainer, trainer.clock


def test_a_time_budget_stops_mid_epoch_annealed_and_saves_what_it_trained(images, tmp_path):
    out = tmp_path / "m"
    trainer, clock = _timed_trainer(out, 5.5)  # 12 images in batches of 4: 3 steps an epoch, 1 s each
    report = trainer.fit(images, on_progress=clock.tick)
    assert report.out_of_time
    assert [(row.epoch, row.images) for row in report.history] == [(1, 12), (2, 8)]
    # the schedule planned for the 5 steps the time held, so the last one ran at cos(0.8 pi) of the peak rate
    assert report.history[-1].lr == pytest.approx(SETTINGS.lr * 0.5 * (1 + math.cos(0.8 * math.pi)))
    meta = load_checkpoint(checkpoint_dir(out)).meta
    assert (meta["epoch"], meta["step"], meta["seconds"]) == (2, 5, 5.0)
    assert load_model(out).origin["training"]["epochs_done"] == 2


def test_a_run_that_spent_its_time_resumes_only_with_more(images, tmp_path):
    out = tmp_path / "m"
    trainer, clock = _timed_trainer(out, 5.0)
    trainer.fit(images, on_progress=clock.tick)
    with pytest.raises(LookalikeError, match="already spent 0.0833 of its 0.0833 minutes"):
        _timed_trainer(out, 5.0)[0].fit(images, resume=True)
    longer, clock = _timed_trainer(out, 8.5)
    report = longer.fit(images, resume=True, on_progress=clock.tick)
    # 5 s spent before, then 3 more steps of 1 s: the third epoch, whole
    assert [(row.epoch, row.images) for row in report.history] == [(1, 12), (2, 8), (3, 12)]


def test_a_budget_spent_before_the_first_step_is_an_error(images, tmp_path):
    trainer, _ = _timed_trainer(tmp_path / "m", 5.0)
    with pytest.raises(LookalikeError, match="budget was spent before the first step"):
        trainer.fit(images, started=-10.0)


@pytest.mark.parametrize("broken", ["loss", "weights"])
def test_a_run_that_turns_non_finite_stops_and_keeps_the_last_good_epoch(images, tmp_path, monkeypatch, broken):
    """Steps 1-3 make epoch 1 (12 images, batches of 4); from step 4 on the loss is NaN, or after step 6, the last
    of epoch 2, a weight is (a NaN weight would make the next loss NaN too)."""
    out = tmp_path / "m"
    trainer = _trainer(out, replace(SETTINGS, epochs=3))
    real_step, calls = trainer.step, 0

    def step(*args, **kwargs):
        nonlocal calls
        calls += 1
        loss, stats = real_step(*args, **kwargs)
        if calls > 3 and broken == "loss":
            return math.nan, stats
        if calls == 6:
            next(trainer.encoder.parameters()).data.fill_(math.nan)
        return loss, stats

    monkeypatch.setattr(trainer, "step", step)
    message = ("the loss became nan at epoch 2, step 1" if broken == "loss" else
               "the weights became NaN or infinite during epoch 2")
    with pytest.raises(LookalikeError, match=message) as caught:
        trainer.fit(images)
    assert "model and checkpoint of epoch 1" in str(caught.value)
    assert load_checkpoint(checkpoint_dir(out)).meta["epoch"] == 1
    assert all(torch.isfinite(value).all() for value in load_model(out).state_dict().values())
