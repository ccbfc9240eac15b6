"""Where and in what precision tensors run: one decision, shared by embedding and training.

bf16 autocast roughly doubles ResNet throughput on CPUs with native bf16 instructions (AVX-512 BF16 or AMX) and
is slower than fp32 on CPUs without them, so "auto" picks it only when the instructions are there.
"""

from __future__ import annotations

import contextlib
import functools
import platform
from collections.abc import Iterator
from pathlib import Path

import torch

from lookalike.errors import LookalikeError

PRECISIONS = ("auto", "fp32", "bf16", "fp16")


@functools.cache
def cpu_has_native_bf16() -> bool:
    """True when the CPU advertises bf16 arithmetic (Linux only; elsewhere we stay with fp32)."""
    if platform.system() != "Linux":
        return False
    try:
        flags = Path("/proc/cpuinfo").read_text(errors="replace")
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def pick_device(requested: str | None = None) -> torch.device:
    """The requested device, or CUDA when present, else CPU."""
    if requested:
        try:
            device = torch.device(requested)
        except RuntimeError as err:
            raise LookalikeError(f"unknown device {requested!r}: {err}") from None
        if device.type == "cuda" and not torch.cuda.is_available():
            raise LookalikeError(f"device {requested!r} was asked for, but CUDA is not available here")
        return device
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def autocast_dtype(device: torch.device, precision: str = "auto") -> torch.dtype | None:
    """The autocast dtype for `precision` on `device`, or None for plain fp32."""
    if precision not in PRECISIONS:
        raise LookalikeError(f"unknown precision {precision!r}; choose one of {', '.join(PRECISIONS)}")
    if precision == "fp32":
        return None
    if precision == "bf16":
        return torch.bfloat16
    if precision == "fp16":
        if device.type != "cuda":
            raise LookalikeError("fp16 autocast is only supported on CUDA; use bf16 or fp32 on CPU")
        return torch.float16
    if device.type == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return torch.bfloat16 if cpu_has_native_bf16() else None


@contextlib.contextmanager
def autocast(device: torch.device, dtype: torch.dtype | None) -> Iterator[None]:
    """Autocast to `dtype` on `device`, or nothing when dtype is None."""
    if dtype is None:
        yield
        return
    with torch.autocast(device_type=device.type, dtype=dtype):
        yield
