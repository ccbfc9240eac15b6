"""A training run's full state after an epoch: weights, optimiser, RNG and history. Safetensors + JSON, never pickle.

The tensors go to `state-<hash>.safetensors`, named by the first hex digits of their SHA-256, and everything else to
`state.json`, which is written second and names the tensors file and its full hash. Replacing `state.json` is the one
step that moves the checkpoint from one epoch to the next: a crash before it leaves the previous `state.json` and the
tensors file it names, which is deleted only afterwards. A reader that finds the two out of step anyway (a file
replaced by hand) refuses them instead of resuming from a mixture. Checkpoints written before files were named by
hash keep `state.safetensors` and are still read.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import torch

from lookalike.atomic import write_bytes_atomic, write_json_atomic
from lookalike.errors import LookalikeError
from lookalike.json_file import read_json_object
from lookalike.vouched import load_vouched, serialise

CHECKPOINT_DIR = "checkpoint"
TENSORS_FILE = "state.safetensors"
"""The tensors file of checkpoints written before the file was named by its hash."""
STATE_FILE = "state.json"
FORMAT_VERSION = 1
_TENSORS_NAME = re.compile(r"state(-[0-9a-f]{16})?\.safetensors")


@dataclass
class Checkpoint:
    model: dict[str, torch.Tensor]
    optimizer: dict
    """In `torch.optim.Optimizer.state_dict()` form."""
    rng: torch.Tensor
    """The CPU generator state of torch's global RNG."""
    meta: dict
    """epoch, step, settings, history and whatever the run records about itself; JSON-serialisable."""


def checkpoint_dir(model_dir: str | Path) -> Path:
    return Path(model_dir) / CHECKPOINT_DIR


def save_checkpoint(folder: str | Path, checkpoint: Checkpoint) -> None:
    folder = Path(folder)
    tensors = {f"model.{key}": value for key, value in checkpoint.model.items()}
    scalars: dict[str, dict[str, float | int | bool]] = {}
    for index, entry in checkpoint.optimizer["state"].items():
        for name, value in entry.items():
            if isinstance(value, torch.Tensor):
                tensors[f"optim.{index}.{name}"] = value
            elif value is not None:
                scalars.setdefault(str(index), {})[name] = value
    tensors["rng.cpu"] = checkpoint.rng
    data, digest = serialise(tensors)
    tensors_file = f"state-{digest[:16]}.safetensors"
    write_bytes_atomic(folder / tensors_file, data)
    write_json_atomic(folder / STATE_FILE, {
        "format": FORMAT_VERSION,
        "tensors_file": tensors_file,
        "tensors_sha256": digest,
        "optimizer_param_groups": checkpoint.optimizer["param_groups"],
        "optimizer_scalars": scalars,
        **checkpoint.meta,
    })
    for old in [*folder.glob("state-*.safetensors"), folder / TENSORS_FILE]:
        if old.name != tensors_file:
            old.unlink(missing_ok=True)


def _tensors_file(meta: dict, folder: Path) -> str:
    """The tensors file that `state.json` names: a plain name inside the checkpoint folder, nothing else."""
    name = meta.get("tensors_file", TENSORS_FILE)
    if not isinstance(name, str) or not _TENSORS_NAME.fullmatch(name):
        raise LookalikeError(f"{folder / STATE_FILE}: names an unexpected tensors file {name!r}")
    return name


def load_checkpoint(folder: str | Path) -> Checkpoint:
    folder = Path(folder)
    state_path = folder / STATE_FILE
    meta = read_json_object(state_path, missing=f"no checkpoint to resume from in {folder} ({STATE_FILE} is missing)",
                            what="checkpoint state")
    tensors_file = _tensors_file(meta, folder)
    if not (folder / tensors_file).exists():
        raise LookalikeError(f"no checkpoint to resume from in {folder} ({tensors_file} is missing)")
    if meta.get("format") != FORMAT_VERSION:
        raise LookalikeError(f"{state_path}: checkpoint format {meta.get('format')!r} is not supported")
    tensors = load_vouched(folder / tensors_file, meta.get("tensors_sha256"), state_path)
    model = {key[len("model."):]: value for key, value in tensors.items() if key.startswith("model.")}
    optim_state: dict[int, dict] = {}
    for key, value in tensors.items():
        if key.startswith("optim."):
            _, index, name = key.split(".", 2)
            optim_state.setdefault(int(index), {})[name] = value
    for index, entry in meta.pop("optimizer_scalars").items():
        optim_state.setdefault(int(index), {}).update(entry)
    optimizer = {"state": optim_state, "param_groups": meta.pop("optimizer_param_groups")}
    del meta["format"], meta["tensors_sha256"]
    meta.pop("tensors_file", None)
    return Checkpoint(model=model, optimizer=optimizer, rng=tensors["rng.cpu"], meta=meta)
