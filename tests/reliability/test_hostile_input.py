"""Odd and hostile files through the whole pipeline (detector included) and the CLI: a clear message or faces, never a crash.

Decoding each kind of file on its own is covered by tests/test_image.py and
the CLI contract by tests/test_cli.py; this adds what they leave out: the
detector on degenerate images, files that only pretend to be images in one
CLI run, Pillow's own bomb guard switched off, and random input (hypothesis)
through :meth:`Analyzer.analyze`.
"""

from __future__ import annotations

import functools
import io
import json
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from maskface import cli
from maskface.analyzer import Analyzer, ImageResult
from maskface.face import Face
from maskface.image import ImageError


def encode(image: Image.Image, fmt: str, **params) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **params)
    return buffer.getvalue()


def noise(height: int, width: int, channels: int = 3, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (height, width, channels), dtype=np.uint8).squeeze()


@functools.cache
def png_bomb(side: int = 8000) -> bytes:
    """A valid PNG of ``side`` x ``side`` black pixels: 190 KB that would decode to 192 MB (64 MP by default)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    packer, row = zlib.compressobj(9), b"\0" * (side * 3 + 1)
    rows = b"".join(packer.compress(row) for _ in range(side)) + packer.flush()
    header = struct.pack(">IIBBBBB", side, side, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", rows) + chunk(b"IEND", b"")


def hostile_files(folder: Path) -> dict[str, str | None]:
    """Write the files; map each name to a fragment of the expected error, or None when it must be analyzed.

    Colour modes, 16-bit, animation and EXIF are decoding questions (tests/test_image.py, tests/test_cli.py);
    the valid files here are the shapes that stress the detector.
    """
    png = encode(Image.fromarray(noise(60, 40)), "PNG")
    webp = encode(Image.fromarray(noise(60, 40)), "WEBP")
    files: dict[str, tuple[bytes, str | None]] = {
        "bomb.png": (png_bomb(), "image too large"),
        "truncated.png": (png[: len(png) // 2], "truncated or corrupt"),
        "truncated.webp": (webp[: len(webp) // 2], "truncated or corrupt"),
        "video.jpg": (b"\0\0\0\x18ftypmp42" + bytes(2000), "not an image file"),
        "page.gif": (b"<html><script>alert(1)</script></html>", "not an image file"),
        "one-pixel.png": (encode(Image.new("RGB", (1, 1), (200, 10, 10)), "PNG"), None),
        "thin.png": (encode(Image.fromarray(noise(1, 3000)), "PNG"), None),
        "tall.jpg": (encode(Image.fromarray(noise(2000, 2)), "JPEG"), None),
    }
    for name, (data, _) in files.items():
        (folder / name).write_bytes(data)
    return {name: expected for name, (_, expected) in files.items()}


def test_cli_with_the_detector_reports_each_hostile_file_and_goes_on(capsys, tmp_path, tiny_mask_model):
    expected = hostile_files(tmp_path)
    clip = tmp_path / "clip.mp4"  # named directly: not skipped as a non-image extension
    clip.write_bytes(b"\0\0\0\x18ftypisom" + bytes(4000))
    expected[clip.name] = "not an image file"

    code = cli.main(["predict", "--mask-model", str(tiny_mask_model), str(tmp_path), str(clip)])
    lines = {Path(line["image"]).name: line for line in map(json.loads, capsys.readouterr().out.splitlines())}

    assert code == 2 and set(lines) == set(expected)
    for name, error in expected.items():
        if error is None:
            assert lines[name]["error"] is None and isinstance(lines[name]["faces"], list), name
        else:
            assert lines[name]["faces"] == [] and error in lines[name]["error"], name


@pytest.mark.parametrize("pillow_limit", [None, 1_000])
def test_bomb_guard_does_not_rely_on_pillows_global_setting(tiny_mask_model, monkeypatch, pillow_limit):
    """Another library may switch Pillow's guard off (None) or set it very low: ours decides either way."""
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", pillow_limit)
    analyzer = Analyzer(models={"mask": str(tiny_mask_model)})
    with pytest.raises(ImageError, match="image too large"):
        analyzer.analyze(png_bomb(), assume_face=True)
    (face,) = analyzer.analyze(encode(Image.fromarray(noise(64, 48)), "PNG"), assume_face=True)
    assert face.box == (0.0, 0.0, 48.0, 64.0)


# --- properties ------------------------------------------------------------

SEEDS = [encode(Image.fromarray(noise(24, 20, seed=3)), fmt) for fmt in ("PNG", "JPEG", "WEBP", "GIF", "BMP", "TIFF")]


@st.composite
def damaged_image(draw) -> bytes:
    data = bytearray(draw(st.sampled_from(SEEDS)))
    for _ in range(draw(st.integers(1, 6))):
        data[draw(st.integers(0, len(data) - 1))] = draw(st.integers(0, 255))
    return bytes(data[: draw(st.integers(1, len(data)))])


@st.composite
def valid_image(draw) -> bytes:
    width, height = draw(st.integers(1, 48)), draw(st.integers(1, 48))
    mode = draw(st.sampled_from(["L", "RGB", "RGBA", "P"]))
    fmt = draw(st.sampled_from(["PNG", "JPEG", "WEBP", "GIF"] if mode in ("L", "RGB") else ["PNG", "WEBP", "GIF"]))
    image = Image.fromarray(noise(height, width, 4, seed=draw(st.integers(0, 2**16))))
    return encode(image.convert(mode), fmt)


@pytest.fixture(scope="module")
def analyzer(tiny_mask_model) -> Analyzer:
    return Analyzer(models={"mask": str(tiny_mask_model)})


def check_faces(faces: ImageResult, assume_face: bool) -> None:
    assert isinstance(faces, ImageResult) and (len(faces) == 1 or not assume_face)
    for face in faces:
        assert isinstance(face, Face) and np.isfinite(face.box).all()
        assert face["mask"].label in ("with_mask", "without_mask") and 0.0 <= face["mask"].score <= 1.0


@pytest.mark.filterwarnings("ignore::UserWarning")  # Pillow warns about corrupt EXIF/TIFF tags
@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(data=st.one_of(st.binary(max_size=256), damaged_image(), valid_image()), assume_face=st.booleans())
def test_analyzer_answers_faces_or_image_error_for_any_bytes(analyzer, data, assume_face):
    try:
        faces = analyzer.analyze(data, assume_face=assume_face)
    except ImageError as err:
        assert str(err)
        return
    check_faces(faces, assume_face)


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=valid_image(), assume_face=st.booleans())
def test_analyzer_always_analyzes_a_valid_small_image(analyzer, data, assume_face):
    check_faces(analyzer.analyze(data, assume_face=assume_face), assume_face)
