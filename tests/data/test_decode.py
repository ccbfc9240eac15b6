from __future__ import annotations

import hashlib
import os
import pickle
import struct
import zlib
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from PIL.JpegImagePlugin import JpegImageFile

from lookalike.data import MAX_PIXELS, BadImage, decode_rgb, file_sha256
from lookalike.errors import LookalikeError

RED, BLUE, WHITE = (255, 0, 0), (0, 0, 255), (255, 255, 255)
SaveImage = Callable[..., Path]


def halves(size: tuple[int, int], left: tuple[int, int, int], right: tuple[int, int, int]) -> Image.Image:
    """An image whose left half is one colour and right half another, to see where pixels end up."""
    width, height = size
    pixels = np.empty((height, width, 3), dtype=np.uint8)
    pixels[:, : width // 2] = left
    pixels[:, width // 2 :] = right
    return Image.fromarray(pixels)


def png_claiming_size(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims the given size; its pixel data is a few bytes, so decoding it would fail."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)  # 1-bit greyscale
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 16))
            + chunk(b"IEND", b""))


def assert_bad(path: Path, reason: str, **options: object) -> BadImage:
    with pytest.raises(BadImage) as raised:
        decode_rgb(path, **options)
    assert raised.value.path == path
    assert raised.value.reason == reason
    assert str(raised.value) == f"{path}: {reason}"
    return raised.value


# Modes


def test_output_is_contiguous_writable_uint8_rgb(save_image: SaveImage) -> None:
    pixels = decode_rgb(save_image("a.png", Image.new("RGB", (5, 3), (1, 2, 3))))
    assert pixels.shape == (3, 5, 3)
    assert pixels.dtype == np.uint8
    assert pixels.flags.c_contiguous and pixels.flags.writeable
    assert (pixels == (1, 2, 3)).all()


@pytest.mark.parametrize(
    ("name", "image", "expected"),
    [
        ("grey.png", Image.new("L", (4, 4), 77), (77, 77, 77)),
        ("bilevel.png", Image.new("1", (4, 4), 1), WHITE),
        ("ycbcr.tif", Image.new("YCbCr", (4, 4), (128, 128, 128)), (128, 128, 128)),
        ("cmyk.tif", Image.new("CMYK", (4, 4), (0, 255, 255, 0)), RED),
        ("rgb.tif", Image.new("RGB", (4, 4), (10, 200, 30)), (10, 200, 30)),
        ("rgb.bmp", Image.new("RGB", (4, 4), (10, 200, 30)), (10, 200, 30)),
        ("rgb.ppm", Image.new("RGB", (4, 4), (10, 200, 30)), (10, 200, 30)),
        ("grey.pgm", Image.new("L", (4, 4), 99), (99, 99, 99)),
        ("palette.gif", Image.new("RGB", (4, 4), (0, 128, 255)), (0, 128, 255)),
    ],
)
def test_lossless_modes_and_formats_give_exact_rgb(
    save_image: SaveImage, name: str, image: Image.Image, expected: tuple[int, int, int]
) -> None:
    assert (decode_rgb(save_image(name, image)) == expected).all()


def test_lossless_webp(save_image: SaveImage) -> None:
    path = save_image("a.webp", Image.new("RGB", (4, 4), (10, 200, 30)), lossless=True)
    assert (decode_rgb(path) == (10, 200, 30)).all()


def test_cmyk_jpeg(save_image: SaveImage) -> None:
    pixels = decode_rgb(save_image("cmyk.jpg", Image.new("CMYK", (8, 8), (0, 255, 255, 0))))
    assert np.abs(pixels.astype(int) - RED).max() <= 3


def test_palette_with_and_without_transparency(save_image: SaveImage) -> None:
    image = Image.new("P", (2, 1))
    image.putpalette([0, 0, 0, 10, 20, 30])
    image.putpixel((1, 0), 1)

    opaque = decode_rgb(save_image("opaque.png", image))
    see_through = decode_rgb(save_image("transparent.png", image, transparency=0))

    assert opaque[0].tolist() == [[0, 0, 0], [10, 20, 30]]
    assert see_through[0].tolist() == [list(WHITE), [10, 20, 30]]


def test_alpha_is_composited_onto_white(save_image: SaveImage) -> None:
    image = Image.new("RGBA", (3, 1))
    image.putdata([(0, 0, 0, 0), (255, 0, 0, 255), (0, 0, 0, 128)])

    pixels = decode_rgb(save_image("rgba.png", image))

    assert pixels[0, 0].tolist() == list(WHITE)
    assert pixels[0, 1].tolist() == list(RED)
    assert np.abs(pixels[0, 2].astype(int) - 127).max() <= 1


def test_grey_with_alpha(save_image: SaveImage) -> None:
    image = Image.new("LA", (2, 1))
    image.putdata([(100, 0), (100, 255)])
    assert decode_rgb(save_image("la.png", image))[0].tolist() == [list(WHITE), [100, 100, 100]]


def sixteen_bit(mode: str) -> Image.Image:
    values = np.array([0, 32768, 65535], dtype=">u2" if mode == "I;16B" else "<u2")
    return Image.frombytes(mode, (3, 1), values.tobytes())


@pytest.mark.parametrize(("name", "mode"), [("grey16.png", "I;16"), ("grey16.tif", "I;16B")])
def test_sixteen_bit_grey_is_rescaled_not_clipped(save_image: SaveImage, name: str, mode: str) -> None:
    path = save_image(name, sixteen_bit(mode))
    with Image.open(path) as stored:
        assert stored.mode == mode

    assert decode_rgb(path)[0, :, 0].tolist() == [0, 128, 255]


def test_sixteen_bit_pgm_read_as_mode_i(save_image: SaveImage) -> None:
    path = save_image("grey16.pgm", sixteen_bit("I;16"))
    with Image.open(path) as stored:
        assert stored.mode == "I"

    assert decode_rgb(path)[0].tolist() == [[0, 0, 0], [128, 128, 128], [255, 255, 255]]


def test_floating_point_grey_is_stretched_over_its_range(save_image: SaveImage) -> None:
    path = save_image("float.tif", Image.fromarray(np.array([[0.0, 0.5, 1.0]], dtype=np.float32)))
    assert decode_rgb(path)[0, :, 0].tolist() == [0, 128, 255]


@pytest.mark.parametrize(("name", "options"), [("anim.gif", {}), ("anim.webp", {"lossless": True})])
def test_animation_gives_its_first_frame(save_image: SaveImage, name: str, options: dict[str, object]) -> None:
    red, blue = Image.new("RGB", (4, 4), RED), Image.new("RGB", (4, 4), BLUE)
    path = save_image(name, red, save_all=True, append_images=[blue], **options)
    assert (decode_rgb(path) == RED).all()


# Orientation, size


def test_exif_orientation_is_applied(save_image: SaveImage) -> None:
    exif = Image.Exif()
    exif[0x0112] = 6  # stored sideways; display rotated 90 degrees clockwise
    path = save_image("sideways.jpg", halves((40, 20), RED, BLUE), exif=exif)

    pixels = decode_rgb(path).astype(int)

    assert pixels.shape == (40, 20, 3)
    assert np.abs(pixels[:15] - RED).max() < 30  # the stored left half is now on top
    assert np.abs(pixels[25:] - BLUE).max() < 30


def test_size_scales_the_shorter_side_and_crops_the_centre(save_image: SaveImage) -> None:
    path = save_image("wide.png", halves((60, 30), RED, BLUE))

    pixels = decode_rgb(path, size=10)

    assert pixels.shape == (10, 10, 3)
    assert pixels.flags.c_contiguous
    assert (pixels[:, :4] == RED).all()
    assert (pixels[:, 6:] == BLUE).all()


def test_size_crops_tall_images_from_the_middle(save_image: SaveImage) -> None:
    tall = np.zeros((90, 30, 3), dtype=np.uint8)
    tall[30:60] = (0, 255, 0)
    pixels = decode_rgb(save_image("tall.png", Image.fromarray(tall)), size=6)
    assert (pixels[1:-1] == (0, 255, 0)).all()  # the outer rows blend a little with what lies beyond the crop
    assert (pixels[[0, -1], :, 1] > 200).all()


def test_size_upscales_small_images(save_image: SaveImage) -> None:
    assert decode_rgb(save_image("tiny.png", Image.new("RGB", (3, 2), RED)), size=16).shape == (16, 16, 3)


def test_large_jpeg_is_drafted_to_no_less_than_the_size_and_looks_the_same(
    save_image: SaveImage, monkeypatch: pytest.MonkeyPatch
) -> None:
    rows, columns = np.mgrid[0:1200, 0:1600]
    smooth = np.stack([rows * 255 // 1199, columns * 255 // 1599, (rows + columns) * 255 // 2798], axis=-1)
    image = Image.fromarray(smooth.astype(np.uint8))
    jpeg = save_image("large.jpg", image, quality=95)
    lossless = save_image("large.png", image)
    drafted_sizes = []
    original_draft = JpegImageFile.draft

    def recording_draft(self: JpegImageFile, mode: str | None, size: tuple[int, int] | None) -> object:
        result = original_draft(self, mode, size)
        drafted_sizes.append(self.size)
        return result

    monkeypatch.setattr(JpegImageFile, "draft", recording_draft)

    for size in (64, 160, 301):
        fast = decode_rgb(jpeg, size=size).astype(int)
        reference = decode_rgb(lossless, size=size).astype(int)
        assert fast.shape == reference.shape == (size, size, 3)
        assert np.abs(fast - reference).mean() < 2

    assert drafted_sizes == [(200, 150), (400, 300), (800, 600)]


def test_bytes_input_matches_file_input(save_image: SaveImage) -> None:
    path = save_image("a.png", halves((12, 8), RED, BLUE))
    assert np.array_equal(decode_rgb(path.read_bytes(), size=6), decode_rgb(path, size=6))


# Bad input


def test_random_bytes_named_jpg_are_not_an_image(tmp_path: Path) -> None:
    path = tmp_path / "noise.jpg"
    path.write_bytes(np.random.default_rng(0).integers(0, 256, 500, dtype=np.uint8).tobytes())
    assert_bad(path, "not an image")


def test_text_named_jpg_is_not_an_image(tmp_path: Path) -> None:
    path = tmp_path / "x.jpg"
    path.write_text("this is not a picture\n")
    assert_bad(path, "not an image")


def test_truncated_jpeg(save_image: SaveImage) -> None:
    noise = np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8)
    path = save_image("cut.jpg", Image.fromarray(noise))
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    assert_bad(path, "truncated file")


def test_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.png"
    path.touch()
    assert_bad(path, "empty file (0 bytes)")


def test_missing_file(tmp_path: Path) -> None:
    assert_bad(tmp_path / "gone.jpg", "file not found")


def test_folder_instead_of_file(tmp_path: Path) -> None:
    folder = tmp_path / "looks_like.jpg"
    folder.mkdir()
    assert_bad(folder, "is a folder, not a file")


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root reads files whatever their permissions")
def test_unreadable_file(save_image: SaveImage) -> None:
    path = save_image("locked.png", Image.new("RGB", (2, 2)))
    path.chmod(0)
    try:
        assert_bad(path, "permission denied")
    finally:
        path.chmod(0o600)


@pytest.mark.parametrize(
    ("failure", "reason"),
    [
        (PermissionError(13, "Permission denied"), "permission denied"),
        (OSError(5, "Input/output error"), "unreadable: Input/output error"),
    ],
)
def test_read_failures_are_reported_as_bad_images(
    save_image: SaveImage, monkeypatch: pytest.MonkeyPatch, failure: OSError, reason: str
) -> None:
    # Simulated, so that it also runs as root; test_unreadable_file covers the real thing.
    path = save_image("a.png", Image.new("RGB", (2, 2)))

    def read_bytes(self: Path) -> bytes:
        raise failure

    monkeypatch.setattr(Path, "read_bytes", read_bytes)
    assert_bad(path, reason)


def test_pixel_limit_is_checked_from_the_header_before_decoding(tmp_path: Path) -> None:
    path = tmp_path / "claims_5000x5000.png"
    path.write_bytes(png_claiming_size(5000, 5000))
    # Had the pixels been decoded, the few bytes of data would have failed as a truncated file instead.
    assert_bad(path, "decompression bomb: 5000x5000 pixels exceeds the 1000000-pixel limit", max_pixels=1_000_000)


@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")
def test_header_over_the_default_limit_is_a_bomb(tmp_path: Path) -> None:
    path = tmp_path / "claims_10000x10000.png"
    path.write_bytes(png_claiming_size(10_000, 10_000))
    assert_bad(path, f"decompression bomb: 10000x10000 pixels exceeds the {MAX_PIXELS}-pixel limit")


def test_header_claiming_twenty_thousand_squared_is_a_bomb(tmp_path: Path) -> None:
    path = tmp_path / "claims_20000x20000.png"
    path.write_bytes(png_claiming_size(20_000, 20_000))
    assert path.stat().st_size < 200
    with pytest.raises(BadImage) as raised:
        decode_rgb(path)
    assert raised.value.reason.startswith("decompression bomb:")
    assert "400000000 pixels" in raised.value.reason
    assert str(path) in str(raised.value)


def test_bytes_input_errors_use_the_given_name() -> None:
    with pytest.raises(BadImage, match=r"^upload\.jpg: not an image$"):
        decode_rgb(b"hello", name="upload.jpg")
    with pytest.raises(BadImage, match=r"^<bytes>: empty file \(0 bytes\)$"):
        decode_rgb(b"")


def test_bad_image_is_a_user_error_that_survives_pickling(tmp_path: Path) -> None:
    error = BadImage(tmp_path / "a.jpg", "truncated file")
    copy = pickle.loads(pickle.dumps(error))
    assert isinstance(copy, LookalikeError)
    assert (copy.path, copy.reason, str(copy)) == (error.path, error.reason, str(error))


def test_file_sha256_matches_hashlib(tmp_path: Path) -> None:
    path = tmp_path / "data.bin"
    data = os.urandom(3_000_000)
    path.write_bytes(data)
    assert file_sha256(path) == hashlib.sha256(data).hexdigest()
