"""The one Trainer. It runs any objective: it makes two views of each image in a batch, hands them to the objective
with the encoder, and steps the optimiser. It never knows which loss it is minimising.

Speed on CPU comes from four choices: images are decoded once into a uint8 cache (see lookalike.data.cache); views
are computed for the whole batch at once on the device; the encoder runs in channels_last under bf16 autocast where
the CPU has native bf16; and Adam is the fused kernel.

A run given `settings.minutes` stops when its time is up, its learning rate annealed over the steps that time holds
(see lookalike.training.budget); the epoch it stops in is saved like any other, its row counting the images it saw.

Determinism: the batch order and every view of epoch e come from a generator seeded with (seed, e), so a run resumed
from the checkpoint of epoch e replays epochs e+1... exactly as an uninterrupted run would (unless it has a time
budget: then the learning rate and the last step follow the clock).

Several processes (torchrun): every process draws the same batch order and takes its share of each batch; gradients
and batch-norm statistics are averaged over the processes, so the weights stay identical everywhere, and only the
first process validates and writes files. `batch_size` is the global batch.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import torch

from lookalike import distributed
from lookalike.data.cache import ImageCache
from lookalike.errors import LookalikeError, WriteFailed
from lookalike.models import Encoder, model_id
from lookalike.objectives import Objective
from lookalike.runtime import autocast, autocast_dtype, pick_device
from lookalike.training.batches import identity_batches, shuffled_batches
from lookalike.training.budget import TimeBudget
from lookalike.training.checkpoint import Checkpoint, checkpoint_dir, load_checkpoint
from lookalike.training.history import EpochRow
from lookalike.training.optim import lr_factor, make_optimizer
from lookalike.training.run_files import RunFiles
from lookalike.training.settings import TrainSettings
from lookalike.training.validation import FixedValidation
from lookalike.views import ViewRecipe

_EPOCH_SEED_STRIDE = 1_000_003
_RANK_SEED_STRIDE = 7_919


@dataclass
class StepProgress:
    epoch: int
    epochs: int
    step: int
    steps: int
    loss: float
    images_per_second: float
    seconds_left: float | None = None
    """What remains of the time budget, if the run has one."""


@dataclass(frozen=True)
class _Schedule:
    """How many steps an epoch and the whole run hold, and how many of them warm the learning rate up."""

    steps_per_epoch: int
    total_steps: int
    warmup_steps: int


@dataclass
class _RunState:
    """Where a run stands: epochs and steps done, their log rows, and the seconds spent (for a time budget)."""

    epoch: int = 0
    step: int = 0
    history: list[EpochRow] = field(default_factory=list)
    seconds: float = 0.0


@dataclass
class TrainReport:
    model_dir: Path
    model_id: str
    history: list[EpochRow]
    resumed_from_epoch: int
    seconds: float
    out_of_time: bool = False
    """Whether the run stopped at its time budget rather than after its last epoch."""


class Trainer:
    """Trains `encoder` in place on uint8 images with `objective`, writing everything to `out_dir`.

    `first_view` and `second_view` make the two views of each image (for the seed's triplets: the plain image and
    its augmented positive). `run_info` is recorded in the checkpoint and in the saved model's origin.
    """

    clock: Callable[[], float] = staticmethod(time.perf_counter)
    """What the time budget reads; tests replace it."""

    def __init__(
        self,
        encoder: Encoder,
        objective: Objective,
        first_view: ViewRecipe,
        second_view: ViewRecipe,
        settings: TrainSettings,
        out_dir: str | Path,
        *,
        run_info: dict | None = None,
    ) -> None:
        self.settings = settings
        self.device = pick_device(settings.device)
        self.dtype = autocast_dtype(self.device, settings.precision)
        self.ranks = distributed.current()
        if self.ranks.world > 1 and self.device.type == "cuda":
            encoder = torch.nn.SyncBatchNorm.convert_sync_batchnorm(encoder)  # SimCLR's global batch norm
        self.encoder = encoder.to(self.device).to(memory_format=torch.channels_last)
        self.objective = objective.to(self.device)
        self.first_view = first_view
        self.second_view = second_view
        self.out_dir = Path(out_dir)
        self.files = RunFiles(self.out_dir)
        self.run_info = dict(run_info or {})
        self.image_size = encoder.config.image_size
        self.trainable = [p for p in self.encoder.parameters() if p.requires_grad]
        self.optimizer = make_optimizer(
            settings.optimizer, self.trainable, lr=settings.lr, weight_decay=settings.weight_decay,
            momentum=settings.momentum, device=self.device,
        )
        # fp16 (CUDA only) needs loss scaling; bf16 and fp32 do not.
        self.scaler = torch.amp.GradScaler("cuda") if self.dtype == torch.float16 else None
        self.origin = dict(encoder.origin)
        self._identities: torch.Tensor | None = None  # each training image's identity, when training by identity

    # -- the pieces a step is made of ------------------------------------------------------------------------------

    def views(self, pixels: torch.Tensor, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        """Both views of a uint8 batch already on the device, as floats in [0, 1]."""
        return (self.first_view(pixels, self.image_size, generator),
                self.second_view(pixels, self.image_size, generator))

    def prepare(self, views: torch.Tensor) -> torch.Tensor:
        """Views (uint8 or [0, 1] floats, any device) -> the normalised channels_last input on the device."""
        views = views.to(self.device, non_blocking=True)
        return self.encoder.normalise(views).contiguous(memory_format=torch.channels_last)

    def run(self, fn: Callable):
        with autocast(self.device, self.dtype):
            return fn()

    def step(self, pixels: torch.Tensor, generator: torch.Generator, lr: float,
             identities: torch.Tensor | None = None) -> tuple[float, dict]:
        """One optimisation step on a uint8 batch (with each image's identity, when training by identity); returns
        the loss and the objective's statistics."""
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        with torch.no_grad():
            first, second = self.views(pixels.to(self.device, non_blocking=True), generator)
        first, second = self.prepare(first), self.prepare(second)
        labelled = {} if identities is None else {"identities": identities.to(self.device)}
        output = self.run(lambda: self.objective(self.encoder, first, second, generator=generator, **labelled))
        self.optimizer.zero_grad(set_to_none=True)
        if self.scaler is None:
            output.loss.backward()
            distributed.average_gradients(self.trainable)
            self.optimizer.step()
        else:
            self.scaler.scale(output.loss).backward()
            distributed.average_gradients(self.trainable)
            self.scaler.step(self.optimizer)
            self.scaler.update()
        return distributed.mean(float(output.loss.detach()), self.device), output.stats

    # -- the loop ---------------------------------------------------------------------------------------------------

    def fit(
        self,
        train: ImageCache,
        valid: ImageCache | None = None,
        *,
        resume: bool = False,
        on_progress: Callable[[StepProgress], None] | None = None,
        on_epoch: Callable[[EpochRow], None] | None = None,
        started: float | None = None,
    ) -> TrainReport:
        """Train for `settings.epochs` epochs (counting those already done when resuming), or until `settings.minutes`
        have passed since `started` (a reading of `clock`, by default now), checkpointing each epoch."""
        settings = self.settings
        schedule = self._schedule(len(train))
        self._identities = None if train.labels is None else _numbered(train.labels)
        validation = (FixedValidation(valid.pixels, self.views, settings.seed, max(settings.batch_size, 64))
                      if valid is not None and len(valid) >= 2 else None)
        if resume:
            run = self._restore()
        else:
            torch.manual_seed(settings.seed)
            run = _RunState()
        start_epoch = run.epoch
        fit_started = time.perf_counter()
        budget = TimeBudget(None if settings.minutes is None else settings.minutes * 60,
                            self.clock() if started is None else started, spent=run.seconds, clock=self.clock)
        out_of_time = False
        while run.epoch < settings.epochs and not out_of_time:
            row, out_of_time = self._train_epoch(train, run, schedule, budget, on_progress)
            if row is None:  # the time ran out before this epoch began
                break
            self._close_epoch(row, run, validation, len(train), budget)
            if on_epoch and self.ranks.is_main:
                on_epoch(run.history[-1])
        if run.epoch == start_epoch:
            raise LookalikeError(f"the {settings.minutes:.3g}-minute budget was spent before the first step "
                                 f"({budget.elapsed():.0f} s had passed); give the run more minutes")
        self.encoder.eval()
        return TrainReport(self.out_dir, self._model_id, run.history, start_epoch, time.perf_counter() - fit_started,
                           out_of_time)

    def _schedule(self, images: int) -> _Schedule:
        """Steps per epoch and in the run. Each process needs at least two images of a batch to find a negative
        among them, so a shorter last batch is dropped; any other remainder is trained on, cut to a multiple of the
        number of processes."""
        batch, world = self.settings.batch_size, self.ranks.world
        if images < 2 * world:
            raise LookalikeError(f"training needs at least {2 * world} distinct images, found {images}")
        if batch % world:
            raise LookalikeError(f"the batch size ({batch}) must be a multiple of the number of processes ({world})")
        last = images % batch - images % batch % world
        steps_per_epoch = images // batch + (last >= 2 * world)
        return _Schedule(steps_per_epoch, steps_per_epoch * self.settings.epochs,
                         round(self.settings.warmup_epochs * steps_per_epoch))

    def _train_epoch(self, train: ImageCache, run: _RunState, schedule: _Schedule, budget: TimeBudget,
                     on_progress: Callable[[StepProgress], None] | None) -> tuple[EpochRow | None, bool]:
        """One epoch's steps, until its end or the end of the time budget: its log row (None when not one step
        fitted) and whether the time ran out."""
        settings, epoch = self.settings, run.epoch
        batch, rank, world = settings.batch_size, self.ranks.rank, self.ranks.world
        epoch_seed = settings.seed + _EPOCH_SEED_STRIDE * (epoch + 1)
        generator = torch.Generator().manual_seed(epoch_seed)
        if self._identities is None:
            batches = shuffled_batches(len(train), batch, generator)
        else:
            batches = identity_batches(self._identities, batch, settings.per_identity, generator)
        if world > 1:  # the same order everywhere, but each process's own views
            generator = torch.Generator().manual_seed(epoch_seed + _RANK_SEED_STRIDE * (rank + 1))
        self.encoder.train()
        self.objective.train()
        epoch_started = time.perf_counter()
        loss_sum, images, lr, out_of_time = 0.0, 0, 0.0, False
        stat_sums: dict[str, float] = {}
        for step in range(min(schedule.steps_per_epoch, len(batches))):
            steps_left = self._steps_left(budget)
            if steps_left < 1:
                out_of_time = True
                break
            indices = batches[step]
            indices = indices[: len(indices) - len(indices) % world]
            share = len(indices) // world
            if share < 2:  # a short last batch: no negative in it
                continue
            lr = settings.lr * lr_factor(run.step, min(schedule.total_steps, run.step + steps_left),
                                         schedule.warmup_steps, settings.schedule)
            mine = indices[rank * share:(rank + 1) * share]
            loss, stats = self.step(train.pixels[mine], generator, lr,
                                    None if self._identities is None else self._identities[mine])
            if not math.isfinite(loss):
                raise LookalikeError(f"the loss became {loss} at epoch {epoch + 1}, step {step + 1}; lower the "
                                     f"learning rate or use --precision fp32. {self._kept(run.history)}")
            loss_sum += loss * len(indices)
            for name, value in stats.items():
                stat_sums[name] = stat_sums.get(name, 0.0) + value * len(indices)
            images += len(indices)
            run.step += 1
            budget.step_done()
            if on_progress and self.ranks.is_main:
                rate = images / max(time.perf_counter() - epoch_started, 1e-9)
                on_progress(StepProgress(epoch + 1, settings.epochs, step + 1, schedule.steps_per_epoch, loss, rate,
                                         budget.seconds_left()))
        if not images:
            return None, out_of_time
        seconds = time.perf_counter() - epoch_started
        return EpochRow(epoch=epoch + 1, train_loss=loss_sum / images, lr=lr, images=images,
                        images_per_second=images / seconds, seconds=seconds,
                        statistics={name: total / images for name, total in stat_sums.items()}), out_of_time

    def _close_epoch(self, row: EpochRow, run: _RunState, validation: FixedValidation | None, train_images: int,
                     budget: TimeBudget) -> None:
        """After an epoch's steps: agree on batch-norm statistics, refuse weights that are no longer numbers,
        validate, and save; the time this takes is kept back from the budget's last epoch."""
        closing_started = self.clock()
        distributed.average_batch_norm_statistics(self.encoder)
        if not self._weights_finite():
            raise LookalikeError(f"the weights became NaN or infinite during epoch {run.epoch + 1}; lower the "
                                 f"learning rate. {self._kept(run.history)}")
        if validation is not None and self.ranks.is_main:
            self.encoder.eval()
            self.objective.eval()
            row = replace(row, validation=validation.evaluate(self.encoder, self.objective, self.prepare, self.run))
        run.history.append(row)
        run.epoch += 1
        try:
            self._save(run, train_images, budget.elapsed())
        except WriteFailed as error:
            kept = (f"the checkpoint of epoch {run.epoch - 1} is intact; make room, then continue with --resume"
                    if run.epoch > 1 else "no epoch was saved")
            raise LookalikeError(f"epoch {run.epoch} could not be saved: {error}; {kept}") from None
        budget.closing_took(self.clock() - closing_started)

    def _weights_finite(self) -> bool:
        return all(bool(torch.isfinite(value).all()) for value in self.encoder.state_dict().values()
                   if value.is_floating_point())

    def _kept(self, saved: list[EpochRow]) -> str:
        """What a failed run leaves: the model and checkpoint of the last epoch saved, or nothing."""
        if not saved:
            return "No epoch was saved."
        return (f"The model and checkpoint of epoch {len(saved)} in {self.out_dir} are kept; continue with "
                "--resume.")

    def _steps_left(self, budget: TimeBudget) -> float:
        """The budget's estimate of the steps left, agreed between processes so that all stop at the same step."""
        if self.settings.minutes is None:
            return budget.steps_left()
        return distributed.mean(budget.steps_left(), self.device)

    # -- saving and resuming ----------------------------------------------------------------------------------------

    def _save(self, run: _RunState, train_images: int, seconds: float) -> None:
        """After each epoch: the usable model, its log and curves, then the checkpoint to resume from (see
        `RunFiles`). Only the first process writes; the others hold the same weights."""
        self.encoder.origin = {**self.origin, "training": {**self.run_info, "epochs_done": run.epoch,
                                                          "settings": self.settings.to_dict(),
                                                          "train_images": train_images,
                                                          "processes": self.ranks.world}}
        if not self.ranks.is_main:
            self._model_id = model_id(self.encoder)
            return
        self._model_id = self.files.save(self.encoder, run.history, Checkpoint(
            model=self.encoder.state_dict(),
            optimizer=self.optimizer.state_dict(),
            rng=torch.get_rng_state(),
            meta={"epoch": run.epoch, "step": run.step, "seconds": seconds, "settings": self.settings.to_dict(),
                  "architecture": self.encoder.config.to_dict(), "origin": self.origin, "run": self.run_info,
                  "history": [asdict(row) for row in run.history]},
        ), title=f"{self.run_info.get('objective', 'training')} ({self.encoder.config.backbone})")

    def _match_state_layout(self) -> None:
        """Give loaded optimiser buffers their parameter's memory layout (channels_last for convolutions). Saved
        tensors come back contiguous, and the fused update walks a parameter and its buffers element by element in
        memory order, so a layout mismatch would pair the wrong numbers."""
        for param, state in self.optimizer.state.items():
            for name, value in state.items():
                if isinstance(value, torch.Tensor) and value.shape == param.shape and value.stride() != param.stride():
                    state[name] = torch.empty_like(param, dtype=value.dtype).copy_(value)

    def _restore(self) -> _RunState:
        """Where the checkpoint left the run, with the model and optimiser restored."""
        folder = checkpoint_dir(self.out_dir)
        checkpoint = load_checkpoint(folder)
        meta = checkpoint.meta
        if meta["architecture"] != self.encoder.config.to_dict():
            raise LookalikeError(f"{folder}: the checkpoint is for a different architecture; cannot resume")
        self.encoder.load_state_dict(checkpoint.model)
        try:
            self.optimizer.load_state_dict(checkpoint.optimizer)
        except (ValueError, KeyError) as err:
            raise LookalikeError(f"{folder}: the optimiser state does not fit this run ({err})") from None
        self._match_state_layout()
        torch.set_rng_state(checkpoint.rng)
        self.origin = meta["origin"]
        if meta["epoch"] >= self.settings.epochs:
            raise LookalikeError(f"{folder}: that run already finished {meta['epoch']} epochs; "
                                 f"ask for more than {meta['epoch']} epochs to train on")
        seconds = meta.get("seconds", 0.0)
        if self.settings.minutes is not None and seconds >= self.settings.minutes * 60:
            raise LookalikeError(f"{folder}: that run already spent {seconds / 60:.3g} of its "
                                 f"{self.settings.minutes:.3g} minutes; ask for more minutes to train on")
        return _RunState(meta["epoch"], meta["step"], [EpochRow.from_checkpoint(row) for row in meta["history"]],
                         seconds)


def _numbered(labels: list[str]) -> torch.Tensor:
    """Each label as the number of its identity (in sorted order), for batching and mining by identity."""
    numbers = {label: number for number, label in enumerate(sorted(set(labels)))}
    return torch.tensor([numbers[label] for label in labels])
