"""Tensors in a safetensors file, vouched for by the SHA-256 that a JSON file beside it records.

A model folder (`config.json` and `model.safetensors`) and a training checkpoint (`state.json` and
`state-<hash>.safetensors`) are both written tensors first and JSON last, so the JSON is the one step that makes
the pair current, and read back only when the tensors are exactly the bytes the JSON names: a tensors file that was
replaced, damaged or left over from another write is refused by name rather than loaded.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load as load_safetensors
from safetensors.torch import save as save_safetensors

from lookalike.errors import LookalikeError


def serialise(tensors: dict[str, torch.Tensor]) -> tuple[bytes, str]:
    """The safetensors bytes of `tensors` and their hex SHA-256, for the JSON to record."""
    data = save_safetensors({key: value.detach().cpu().contiguous() for key, value in tensors.items()})
    return data, hashlib.sha256(data).hexdigest()


def load_vouched(path: Path, sha256: object, voucher: Path) -> dict[str, torch.Tensor]:
    """The tensors in `path`, provided its bytes hash to `sha256`, as the JSON file `voucher` records. Raises
    `LookalikeError` naming the file for one that is missing, unreadable, not the one vouched for, or damaged."""
    try:
        data = path.read_bytes()
    except OSError as err:
        raise LookalikeError(f"{path}: cannot read it ({err.strerror or err})") from None
    if hashlib.sha256(data).hexdigest() != sha256:
        raise LookalikeError(f"{path}: does not match {voucher.name} (replaced or damaged)")
    try:
        return load_safetensors(data)
    except SafetensorError as err:
        raise LookalikeError(f"{path}: unreadable tensors ({err})") from None
