"""Training encoders without labels: the one objective-agnostic Trainer, and training from a folder of images."""

from __future__ import annotations

from lookalike.training.folder import Callbacks, FolderRun, resume_training, train_folder
from lookalike.training.settings import TrainSettings
from lookalike.training.trainer import StepProgress, TrainReport, Trainer

__all__ = [
    "Callbacks",
    "FolderRun",
    "StepProgress",
    "TrainReport",
    "TrainSettings",
    "Trainer",
    "resume_training",
    "train_folder",
]
