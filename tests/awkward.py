"""A corpus of awkward files, the kinds a scraped folder, a phone dump or a hostile user brings: images that are valid
but odd, and files and links that cannot be used. Every test that runs `lookalike` over it expects the valid ones
to be used and every other one to be named with its reason, and nothing else to happen."""

from __future__ import annotations

import io
import os
import struct
import zlib
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image
from imagegen import write_truncated_jpeg


def _rgb(seed: int, size=(40, 32)) -> Image.Image:
    rng = np.random.default_rng(seed)
    return Image.fromarray(rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8))


def _exif_rotated(path: Path) -> None:
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: rotate 90° clockwise to display
    _rgb(7, (48, 24)).save(path, format="JPEG", exif=exif)


def _animated(path: Path) -> None:
    frames = [_rgb(11).convert("P"), _rgb(12).convert("P")]
    frames[0].save(path, format="GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)


def _png_start(width: int, height: int) -> bytes:
    """The start of an RGB PNG declaring `width` x `height`: its header and a first slice of compressed zero rows,
    with no end. Cheap to store, and as much to decode as its header says."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    rows = zlib.compressobj().compress(bytes(min(height, 4) * (1 + 3 * width)))
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)) + \
        chunk(b"IDAT", rows)


def _encoded(image: Image.Image, format: str, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=format, **options)
    return buffer.getvalue()


VALID: dict[str, Callable[[Path], None]] = {
    "rgba.png": lambda p: Image.merge("RGBA", (*_rgb(1).split(), Image.linear_gradient("L").resize((40, 32)))).save(p),
    "grey16.png": lambda p: Image.fromarray(np.arange(40 * 32, dtype=np.uint16).reshape(32, 40) * 50).save(p),
    "palette.png": lambda p: _rgb(2).convert("P").save(p, transparency=0),
    "bilevel.png": lambda p: _rgb(3).convert("1").save(p),
    "grey-alpha.png": lambda p: _rgb(4).convert("LA").save(p),
    "grey.jpg": lambda p: _rgb(5).convert("L").save(p),
    "cmyk.jpg": lambda p: _rgb(6).convert("CMYK").save(p),
    "progressive.jpg": lambda p: _rgb(8).save(p, progressive=True),
    "rotated.jpg": _exif_rotated,
    "tiny.png": lambda p: _rgb(9, (1, 1)).save(p),
    "panorama.png": lambda p: _rgb(10, (400, 3)).save(p),
    "animated.gif": _animated,
    "photo.webp": lambda p: _rgb(13).save(p),
    "bitmap.bmp": lambda p: _rgb(14).save(p),
    "float.tiff": lambda p: Image.fromarray(np.linspace(-3, 7, 40 * 32, dtype=np.float32).reshape(32, 40)).save(p),
    "grey16.tiff": lambda p: Image.fromarray(np.arange(40 * 32, dtype=np.uint16).reshape(32, 40) * 40).save(p),
    "cmyk.tiff": lambda p: _rgb(15).convert("CMYK").save(p),
    "portable.pgm": lambda p: _rgb(16).convert("L").save(p),
    "portable.ppm": lambda p: _rgb(17).save(p),
    "UPPER.JPG": lambda p: _rgb(18).save(p, format="JPEG"),
    "png-named.jpg": lambda p: p.write_bytes(_encoded(_rgb(19), "PNG")),
    'with, comma "quote".png': lambda p: _rgb(20).save(p),
    "new\nline\ttab.png": lambda p: _rgb(21).save(p),
    os.fsdecode(b"latin-\xe9\xff.png"): lambda p: _rgb(22).save(p, format="PNG"),  # not valid UTF-8
    "unicode-中文-é.png": lambda p: _rgb(23).save(p),
    "link-to-rgba.png": lambda p: p.symlink_to("rgba.png"),
}

BROKEN: dict[str, Callable[[Path], None]] = {
    "empty.png": lambda p: p.write_bytes(b""),
    "truncated.jpg": write_truncated_jpeg,
    "text.png": lambda p: p.write_text("not an image"),
    "random.jpg": lambda p: p.write_bytes(np.random.default_rng(0).bytes(2000)),
    "header-only.png": lambda p: p.write_bytes(_png_start(40, 32)),
    "bomb.png": lambda p: p.write_bytes(_png_start(100_000, 100_000)),
    "garbage.webp": lambda p: p.write_bytes(b"RIFF\x10\x00\x00\x00WEBPVP8 " + bytes(8)),
    "broken-link.jpg": lambda p: p.symlink_to("nowhere.jpg"),
    "loop-a.jpg": lambda p: p.symlink_to("loop-b.jpg"),
    "loop-b.jpg": lambda p: p.symlink_to("loop-a.jpg"),
    "self-loop.png": lambda p: p.symlink_to("self-loop.png"),
}

UNSAFE_NAMES = ("new\nline\ttab.png", os.fsdecode(b"latin-\xe9\xff.png"))
"""Valid images whose names cannot be identities (a line break, bytes that are not UTF-8)."""


def write_awkward_folder(root: Path) -> tuple[list[Path], list[Path]]:
    """Write every kind into `root` (plus a hidden file and a folder with an image's name, both to be passed over
    silently); returns (valid images, unusable files), as absolute paths."""
    root.mkdir(parents=True, exist_ok=True)
    for name, write in {**VALID, **BROKEN}.items():
        write(root / name)
    _rgb(30).save(root / ".hidden.png")
    (root / "folder.png").mkdir()
    root = root.resolve()
    return [root / name for name in VALID], [root / name for name in BROKEN]
