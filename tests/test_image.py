"""Tests for maskface.image; every fixture is generated here with Pillow."""

from __future__ import annotations

import io
import os
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image, ImageFile

from maskface.image import (
    BACKGROUND_RGB,
    IMAGE_EXTENSIONS,
    ImageError,
    Limits,
    iter_image_files,
    load_image,
    to_pil,
)

GREY = np.array(BACKGROUND_RGB, dtype=np.uint8)
RED = (255, 0, 0)


def encode(image: Image.Image, fmt: str, **params) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **params)
    return buffer.getvalue()


def write(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def noise(height: int, width: int, channels: int = 3, seed: int = 0) -> np.ndarray:
    shape = (height, width) if channels == 1 else (height, width, channels)
    return np.random.default_rng(seed).integers(0, 256, shape, dtype=np.uint8)


def png_declaring(width: int, height: int) -> bytes:
    """A PNG whose header declares width x height but which holds no pixel data."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(b""))
        + chunk(b"IEND", b"")
    )


# --- basic decoding --------------------------------------------------------


def test_rgb_png_is_exact(tmp_path):
    pixels = noise(5, 7)
    path = write(tmp_path / "a.png", encode(Image.fromarray(pixels), "PNG"))
    out = load_image(path)
    assert out.dtype == np.uint8 and out.shape == (5, 7, 3)
    np.testing.assert_array_equal(out, pixels)
    assert out.flags.writeable


def test_str_path_and_bytes_and_bytearray_agree(tmp_path):
    data = encode(Image.fromarray(noise(4, 6)), "PNG")
    path = write(tmp_path / "a.png", data)
    expected = load_image(path)
    np.testing.assert_array_equal(load_image(str(path)), expected)
    np.testing.assert_array_equal(load_image(data), expected)
    np.testing.assert_array_equal(load_image(bytearray(data)), expected)


def test_one_pixel_image_is_valid(tmp_path):
    path = write(tmp_path / "dot.png", encode(Image.new("RGB", (1, 1), RED), "PNG"))
    np.testing.assert_array_equal(load_image(path), [[RED]])


def test_grayscale_and_bilevel(tmp_path):
    gray = noise(4, 5, channels=1)
    out = load_image(write(tmp_path / "g.png", encode(Image.fromarray(gray), "PNG")))
    np.testing.assert_array_equal(out, np.stack([gray] * 3, axis=2))

    bilevel = Image.new("1", (3, 2), 0)
    bilevel.putpixel((0, 0), 1)
    out = load_image(encode(bilevel, "BMP"))
    assert out[0, 0].tolist() == [255, 255, 255] and out[1, 2].tolist() == [0, 0, 0]


# --- EXIF orientation ------------------------------------------------------

# Display = ORIENT[tag](stored), per the EXIF specification.
ORIENT = {
    1: lambda a: a,
    2: lambda a: a[:, ::-1],
    3: lambda a: a[::-1, ::-1],
    4: lambda a: a[::-1, :],
    5: lambda a: a.transpose(1, 0, 2),
    6: lambda a: np.rot90(a, k=-1),  # 90 degrees clockwise
    7: lambda a: a[::-1, ::-1].transpose(1, 0, 2),
    8: lambda a: np.rot90(a, k=1),  # 90 degrees counter-clockwise
}


def marker_image() -> np.ndarray:
    """6 wide x 4 high, white, with a 2x2 red square in the top-left corner."""
    pixels = np.full((4, 6, 3), 255, dtype=np.uint8)
    pixels[:2, :2] = RED
    pixels[0, 5] = (0, 0, 255)  # blue top-right pixel breaks the remaining symmetry
    return pixels


def with_orientation(pixels: np.ndarray, orientation: int, fmt: str, **params) -> bytes:
    exif = Image.Exif()
    exif[0x0112] = orientation
    return encode(Image.fromarray(pixels), fmt, exif=exif, **params)


@pytest.mark.parametrize("orientation", range(1, 9))
def test_exif_orientation(orientation):
    stored = marker_image()
    out = load_image(with_orientation(stored, orientation, "PNG"))
    np.testing.assert_array_equal(out, ORIENT[orientation](stored))


def test_exif_orientation_jpeg():
    stored = np.repeat(np.repeat(marker_image(), 8, axis=0), 8, axis=1)  # 48x32
    out = load_image(with_orientation(stored, 6, "JPEG", quality=95))
    assert out.shape == (48, 32, 3)
    assert np.abs(out.astype(int) - ORIENT[6](stored)).mean() < 8


def test_pil_input_is_oriented_and_left_untouched():
    stored = marker_image()
    image = Image.open(io.BytesIO(with_orientation(stored, 8, "PNG")))
    np.testing.assert_array_equal(load_image(image), ORIENT[8](stored))
    assert image.size == (6, 4) and image.getexif()[0x0112] == 8


# --- colour modes ----------------------------------------------------------


def test_rgba_is_composited_on_background():
    rgba = np.zeros((1, 3, 4), dtype=np.uint8)
    rgba[0, 0] = (255, 0, 0, 255)  # opaque red
    rgba[0, 1] = (255, 0, 0, 0)  # fully transparent
    rgba[0, 2] = (255, 255, 255, 128)  # half-transparent white
    out = load_image(encode(Image.fromarray(rgba), "PNG"))
    half = np.rint(255 * 128 / 255 + GREY * (1 - 128 / 255))
    np.testing.assert_array_equal(out[0], [RED, GREY, half])


def test_la_mode():
    la = Image.new("LA", (2, 1), (200, 255))
    la.putpixel((1, 0), (200, 0))
    out = load_image(encode(la, "PNG"))
    np.testing.assert_array_equal(out[0], [[200] * 3, GREY])


@pytest.mark.parametrize("fmt", ["PNG", "GIF"])
def test_palette_with_transparency(fmt):
    image = Image.new("P", (2, 1))
    image.putpalette([255, 0, 0, 0, 255, 0] + [0] * 762)
    image.putpixel((1, 0), 1)
    out = load_image(encode(image, fmt, transparency=1))
    np.testing.assert_array_equal(out[0], [RED, GREY])


def test_palette_without_transparency():
    image = Image.fromarray(noise(3, 4)).convert("P", palette=Image.Palette.ADAPTIVE)
    out = load_image(encode(image, "PNG"))
    np.testing.assert_array_equal(out, np.asarray(image.convert("RGB")))


def test_cmyk_jpeg():
    cmyk = Image.new("CMYK", (16, 16), (0, 255, 255, 0))  # red in CMYK
    data = encode(cmyk, "JPEG", quality=95)
    assert Image.open(io.BytesIO(data)).mode == "CMYK"
    out = load_image(data)
    assert out.shape == (16, 16, 3)
    assert np.abs(out.astype(int) - RED).max() < 10


def test_16_bit_png_is_scaled():
    values = np.array([[0, 257, 32896, 65535]], dtype=np.uint16)
    data = encode(Image.fromarray(values), "PNG")
    assert Image.open(io.BytesIO(data)).mode == "I;16"
    out = load_image(data)
    np.testing.assert_array_equal(out[0, :, 0], [0, 1, 128, 255])
    assert (out[..., 0] == out[..., 2]).all()


def test_32_bit_int_and_float_tiff():
    ints = np.array([[0, 1000, 65535]], dtype=np.int32)
    out = load_image(encode(Image.fromarray(ints, "I"), "TIFF"))
    np.testing.assert_array_equal(out[0, :, 0], [0, 4, 255])

    floats = np.array([[0.0, 0.5, 1.0]], dtype=np.float32)
    out = load_image(encode(Image.fromarray(floats, "F"), "TIFF"))
    np.testing.assert_array_equal(out[0, :, 0], [0, 128, 255])


def test_animated_gif_and_webp_give_first_frame():
    frames = [Image.new("RGB", (8, 8), colour) for colour in (RED, (0, 255, 0), (0, 0, 255))]
    for fmt, params in (("GIF", {}), ("WEBP", {"lossless": True})):
        data = encode(
            frames[0], fmt, save_all=True, append_images=frames[1:], duration=50, **params
        )
        assert getattr(Image.open(io.BytesIO(data)), "n_frames", 1) == 3
        out = load_image(data)
        assert out.shape == (8, 8, 3)
        assert np.abs(out.astype(int) - RED).max() <= 2, fmt


# --- unusable inputs -------------------------------------------------------


def test_missing_file(tmp_path):
    with pytest.raises(ImageError, match="file not found: .*nope.jpg"):
        load_image(tmp_path / "nope.jpg")


def test_directory(tmp_path):
    with pytest.raises(ImageError, match="is a directory"):
        load_image(tmp_path)


def test_zero_byte_file_and_empty_bytes(tmp_path):
    with pytest.raises(ImageError, match=r"empty file \(0 bytes\)"):
        load_image(write(tmp_path / "empty.png", b""))
    with pytest.raises(ImageError, match="empty image data.*uploaded image"):
        load_image(b"")


def test_text_file_with_image_extension(tmp_path):
    path = write(tmp_path / "notes.jpg", b"shopping list: eggs, milk\n")
    with pytest.raises(ImageError, match="cannot identify image format.*notes.jpg"):
        load_image(path)


def test_message_names_upload_and_never_echoes_bytes():
    with pytest.raises(ImageError) as info:
        load_image(b"SECRET-CONTENT" * 10)
    assert "uploaded image" in str(info.value) and "SECRET" not in str(info.value)


def test_format_outside_supported_list_is_refused():
    data = encode(Image.new("RGB", (4, 4), RED), "PPM")  # Pillow can read it, we do not
    with pytest.raises(ImageError, match="unsupported format"):
        load_image(data)


@pytest.mark.parametrize("fmt", ["JPEG", "PNG"])
@pytest.mark.parametrize("flag_left_on", [False, True])
def test_truncated_file_raises_instead_of_half_grey(tmp_path, monkeypatch, fmt, flag_left_on):
    # The flag may have been switched on by another library: decoding must still fail.
    monkeypatch.setattr(ImageFile, "LOAD_TRUNCATED_IMAGES", flag_left_on)
    data = encode(Image.fromarray(noise(64, 64)), fmt)
    path = write(tmp_path / f"cut.{fmt.lower()}", data[: len(data) // 2])
    with pytest.raises(ImageError, match="truncated or corrupt image file: .*cut"):
        load_image(path)


def test_none_and_wrong_type():
    with pytest.raises(ImageError, match="no image provided"):
        load_image(None)
    with pytest.raises(TypeError):
        load_image(42)


# --- limits ----------------------------------------------------------------


def test_byte_limit_for_files_and_bytes(tmp_path):
    data = encode(Image.fromarray(noise(32, 32)), "PNG")
    limits = Limits(max_bytes=len(data) - 1)
    path = write(tmp_path / "big.png", data)
    with pytest.raises(ImageError, match="file too large: .*big.png.*MASKFACE_MAX_BYTES"):
        load_image(path, limits)
    with pytest.raises(ImageError, match="file too large: uploaded image"):
        load_image(data, limits)
    assert load_image(data, Limits(max_bytes=len(data))).shape == (32, 32, 3)


def test_pixel_limit_is_checked_from_the_header():
    # 8000x8000 declared, no pixel data: refused before any decoding.
    with pytest.raises(ImageError) as info:
        load_image(png_declaring(8000, 8000))
    assert str(info.value) == (
        "image too large: uploaded image is 8000x8000 = 64,000,000 pixels, which exceeds "
        "the limit of 50,000,000 (set MASKFACE_MAX_PIXELS to change it)"
    )


@pytest.mark.filterwarnings("error")
def test_decompression_bomb_raises_without_warning():
    with pytest.raises(ImageError, match="image too large.*decompression bomb"):
        load_image(png_declaring(100_000, 100_000))


def test_pixel_limit_for_small_image_and_inputs():
    limits = Limits(max_pixels=50)
    image = Image.new("RGB", (10, 10), RED)
    for source in (encode(image, "PNG"), image, np.zeros((10, 10, 3), np.uint8)):
        with pytest.raises(ImageError, match="10x10 = 100 pixels"):
            load_image(source, limits)


@pytest.fixture(scope="module")
def huge_jpeg(tmp_path_factory) -> Path:
    """A 10000x10000 solid grey JPEG: about 1 MB, made in well under a second."""
    path = tmp_path_factory.mktemp("huge") / "huge.jpg"
    Image.new("L", (10_000, 10_000), 90).save(path, "JPEG")
    return path


def test_10000_square_refused_by_default(huge_jpeg):
    with pytest.raises(ImageError, match=r"10000x10000 = 100,000,000 pixels.*50,000,000"):
        load_image(huge_jpeg)


@pytest.mark.filterwarnings("error")
def test_10000_square_loads_and_downscales_with_raised_limit(huge_jpeg):
    out = load_image(huge_jpeg, Limits(max_pixels=100_000_000))
    assert out.shape == (4096, 4096, 3) and out.dtype == np.uint8
    assert abs(int(out[2000, 2000, 0]) - 90) <= 2


def test_downscale_keeps_aspect_ratio():
    limits = Limits(max_side=60)
    image = Image.fromarray(noise(100, 300))
    assert load_image(encode(image, "PNG"), limits).shape == (20, 60, 3)
    assert load_image(image, limits).shape == (20, 60, 3)
    assert load_image(noise(300, 100), limits).shape == (60, 20, 3)
    assert load_image(noise(60, 10), limits).shape == (60, 10, 3)


# --- arrays ----------------------------------------------------------------


def test_array_inputs():
    gray = noise(3, 4, channels=1)
    np.testing.assert_array_equal(load_image(gray), np.stack([gray] * 3, axis=2))
    np.testing.assert_array_equal(load_image(gray[:, :, None]), np.stack([gray] * 3, axis=2))

    rgb = noise(3, 4)
    out = load_image(rgb)
    np.testing.assert_array_equal(out, rgb)
    out[0, 0] = 0
    assert not np.shares_memory(out, rgb)

    np.testing.assert_array_equal(load_image(rgb / 255.0), rgb)  # float in [0, 1]
    np.testing.assert_array_equal(load_image(rgb.astype(np.float32) + 0.0), rgb)  # 0-255
    np.testing.assert_array_equal(load_image(rgb.astype(np.int64)), rgb)
    np.testing.assert_array_equal(load_image(rgb.astype(np.uint16) * 257), rgb)
    np.testing.assert_array_equal(load_image(np.ones((2, 2), bool)), np.full((2, 2, 3), 255))

    rgba = np.zeros((1, 2, 4), np.uint8)
    rgba[0, 0] = (255, 0, 0, 255)
    np.testing.assert_array_equal(load_image(rgba)[0], [RED, GREY])


@pytest.mark.parametrize(
    ("array", "message"),
    [
        (np.zeros((4, 4, 5), np.uint8), "unsupported array shape"),
        (np.zeros((4, 4, 2), np.uint8), "unsupported array shape"),
        (np.zeros(16, np.uint8), "unsupported array shape"),
        (np.zeros((1, 4, 4, 3), np.uint8), "unsupported array shape"),
        (np.zeros((0, 4, 3), np.uint8), "empty image"),
        (np.full((2, 2), np.nan), "NaN or infinite"),
        (np.full((2, 2), -1.0), "negative"),
        (np.full((2, 2), 300.0), "0-1 or 0-255"),
        (np.full((2, 2), 70_000, np.int64), "0-65535"),
        (np.zeros((2, 2), complex), "unsupported pixel type"),
        (np.zeros((2, 2), object), "unsupported pixel type"),
    ],
)
def test_bad_arrays(array, message):
    with pytest.raises(ImageError, match=message):
        load_image(array)


def test_to_pil():
    image = to_pil(noise(3, 4, channels=4))
    assert image.mode == "RGB" and image.size == (4, 3)
    with pytest.raises(ImageError):
        to_pil(np.zeros((3, 4, 5), np.uint8))


# --- iter_image_files ------------------------------------------------------


def test_iter_image_files(tmp_path):
    for name in (
        "b/2.png", "b/1.JPG", "b/c/3.webp", "b/notes.txt", "b/.hidden.png",
        "b/.git/4.png", "a.gif", "b/0.tiff",
    ):
        write(tmp_path / name, b"x")
    os.symlink(tmp_path / "b" / "c", tmp_path / "b" / "link")
    single = write(tmp_path / "single.txt", b"x")
    missing = tmp_path / "missing.png"

    found = list(iter_image_files([single, tmp_path / "b", str(missing), tmp_path / "a.gif"]))
    assert found == [
        single,
        tmp_path / "b/0.tiff",
        tmp_path / "b/1.JPG",
        tmp_path / "b/2.png",
        tmp_path / "b/c/3.webp",
        missing,
        tmp_path / "a.gif",
    ]
    assert all(isinstance(path, Path) for path in found)
    assert list(iter_image_files([])) == []
    assert ".jpeg" in IMAGE_EXTENSIONS and ".tif" in IMAGE_EXTENSIONS


# --- properties ------------------------------------------------------------

FUZZ_LIMITS = Limits(max_pixels=2_000_000, max_side=256)
SEEDS = [
    encode(Image.fromarray(noise(12, 10, seed=1)), fmt)
    for fmt in ("PNG", "JPEG", "WEBP", "GIF", "BMP", "TIFF")
]
MAGIC = [
    b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"GIF89a", b"BM", b"RIFF\0\0\0\0WEBPVP8 ", b"II*\0"
]


@st.composite
def mutated_image(draw) -> bytes:
    data = bytearray(draw(st.sampled_from(SEEDS)))
    for _ in range(draw(st.integers(1, 8))):
        data[draw(st.integers(0, len(data) - 1))] = draw(st.integers(0, 255))
    return bytes(data[: draw(st.integers(1, len(data)))])


garbage = st.one_of(
    st.binary(max_size=512),
    st.builds(bytes.__add__, st.sampled_from(MAGIC), st.binary(max_size=512)),
    mutated_image(),
)


@pytest.mark.filterwarnings("ignore::UserWarning")  # Pillow warns about corrupt EXIF/TIFF tags
@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(garbage)
def test_any_bytes_give_an_image_or_image_error(data):
    try:
        out = load_image(data, FUZZ_LIMITS)
    except ImageError:
        return
    assert out.ndim == 3 and out.shape[2] == 3 and out.dtype == np.uint8


@settings(max_examples=200, deadline=None)
@given(
    width=st.integers(1, 64),
    height=st.integers(1, 64),
    mode=st.sampled_from(["L", "RGB", "RGBA", "P"]),
    fmt=st.sampled_from(["PNG", "JPEG", "WEBP", "GIF", "BMP"]),
    seed=st.integers(0, 2**32 - 1),
)
def test_valid_images_always_load(width, height, mode, fmt, seed):
    image = Image.fromarray(noise(height, width, channels=4, seed=seed))
    if mode == "P":
        image = image.convert("RGB").convert("P", palette=Image.Palette.ADAPTIVE)
    else:
        image = image.convert(mode)
    if fmt == "JPEG" and mode in ("RGBA", "P"):
        image = image.convert("RGB")
    out = load_image(encode(image, fmt))
    assert out.shape == (height, width, 3) and out.dtype == np.uint8
    if fmt in ("PNG", "BMP") and mode in ("L", "RGB", "P"):
        np.testing.assert_array_equal(out, np.asarray(image.convert("RGB")))
