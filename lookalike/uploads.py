"""Decoding images that strangers send (a server's uploads) within bounds that keep the server alive.

A small file can declare a huge image: an 86 KB PNG decodes to 88 million pixels and a few hundred megabytes. Files a
user indexes may be that large; uploads get a lower pixel limit, refused from the header before any pixel is decoded,
and only a few decode at once, so that concurrent uploads cannot add up to more memory than the machine has. A
request that cannot get a turn in time is told to come back later rather than queued without end.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np

from lookalike.data import decode_rgb
from lookalike.data.decode import decode_regions
from lookalike.errors import LookalikeError
from lookalike.images import Encoded
from lookalike.preprocess import Stage

DEFAULT_MAX_PIXELS = 24_000_000
"""A 24-megapixel camera's photo (6000 x 4000): about 100 MB while it decodes."""

DEFAULT_AT_ONCE = 2
DEFAULT_WAIT_SECONDS = 10.0

_M_MMAP_THRESHOLD = -3
"""glibc's mallopt parameter number for the size above which an allocation gets pages of its own."""


def return_large_buffers_to_the_system(threshold: int = 1 << 20) -> bool:
    """Have this process's allocations of `threshold` bytes or more mapped on their own, so that a decoded upload's
    buffers go back to the system when freed, in a long-running server.

    glibc raises that threshold by itself after a large buffer is freed, up to 32 MB; Pillow's 16 MB blocks then come
    from the heaps of the server's worker threads, which keep them: measured with `bench/upload_pressure.py`, a
    burst of 23-megapixel uploads left the server 1.5 GB larger than before it, and with a fixed threshold it fell
    back to where it started. Returns False where there is no glibc (the call is then a no-op)."""
    name = ctypes.util.find_library("c")
    try:
        mallopt = ctypes.CDLL(name).mallopt if name else None
    except (OSError, AttributeError):
        mallopt = None
    return bool(mallopt and mallopt(_M_MMAP_THRESHOLD, threshold) == 1)


class Busy(LookalikeError):
    """Every decoding slot stayed taken for as long as a request may wait; the client should try again soon."""

    http_status = 503
    retry_after_seconds = 5


@dataclass(frozen=True)
class UploadLimits:
    """Bounds on decoding uploads: pixels per image, images decoding at once, and how long a request waits for
    its turn."""

    max_pixels: int = DEFAULT_MAX_PIXELS
    at_once: int = DEFAULT_AT_ONCE
    wait_seconds: float = DEFAULT_WAIT_SECONDS

    def __post_init__(self) -> None:
        if self.max_pixels < 1 or self.at_once < 1 or not self.wait_seconds >= 0:
            raise LookalikeError(f"upload limits must be positive: {self}")


class UploadDecoder:
    """Decodes uploads under `UploadLimits`; threads share one."""

    def __init__(self, limits: UploadLimits = UploadLimits()) -> None:
        self.limits = limits
        self._turns = threading.BoundedSemaphore(limits.at_once)

    def decode(self, upload: Encoded) -> np.ndarray:
        """(H, W, 3) uint8 RGB pixels of an upload, as `decode_rgb` makes them. Raises `TooManyPixels` over the
        pixel limit, `BadImage` for anything unreadable and `Busy` when no turn came in time."""
        with self._turn():
            return decode_rgb(upload.data, max_pixels=self.limits.max_pixels, name=upload.name)

    def decode_regions(self, upload: Encoded, size: int, stage: Stage) -> list[tuple[str, np.ndarray]]:
        """The preprocessing `stage`'s inputs of an upload at `size`, as `decode_regions` makes them, under the
        same bounds as `decode`."""
        with self._turn():
            return decode_regions(upload.data, size, stage, max_pixels=self.limits.max_pixels, name=upload.name)

    @contextmanager
    def _turn(self) -> Iterator[None]:
        if not self._turns.acquire(timeout=self.limits.wait_seconds):
            raise Busy(f"the server is decoding {self.limits.at_once} images already; try again in a few seconds")
        try:
            yield
        finally:
            self._turns.release()
