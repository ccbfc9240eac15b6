"""Reading back the file of a stored image, but only while it is still the file that was indexed.

A gallery records each file's size and content hash. Between indexing and reading, the file may have been deleted,
edited, or replaced by a link to something private (``/etc/shadow``), a pipe that would block the reader, or a device.
Whoever shows a stored image to someone else (the web server) reads it through `read_stored_file`, which opens it
without blocking, insists on a regular file, and compares size and hash before handing out a byte.
"""

from __future__ import annotations

import hashlib
import os
import stat

from lookalike.errors import LookalikeError
from lookalike.gallery.records import StoredImage


class StoredFileMissing(LookalikeError):
    """The file of a stored image is no longer there."""

    http_status = 404


class StoredFileChanged(LookalikeError):
    """The file of a stored image is there but is no longer the one that was indexed."""

    http_status = 410


def read_stored_file(image: StoredImage) -> bytes:
    """The bytes of `image`'s file if it is still a regular file of the recorded size and content hash."""
    changed = StoredFileChanged(f"the file of image {image.id} changed since it was indexed; index the gallery "
                                "again to show it")
    try:
        fd = os.open(image.path, os.O_RDONLY | os.O_NONBLOCK)  # a pipe put in its place must not hang the reader
    except FileNotFoundError:
        raise StoredFileMissing(f"the file of image {image.id} is no longer on disk") from None
    except OSError:
        raise changed from None
    with os.fdopen(fd, "rb") as stream:
        info = os.fstat(stream.fileno())
        if not stat.S_ISREG(info.st_mode) or info.st_size != image.size:
            raise changed
        data = stream.read(image.size + 1)
    if len(data) != image.size or hashlib.sha256(data).hexdigest() != image.sha256:
        raise changed
    return data
