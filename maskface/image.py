"""The one place where maskface decodes images.

Every image that reaches the analyzer - files from the command line, uploads to
the public Space, arrays and PIL images handed over by gradio - goes through
:func:`load_image`. Uploads are untrusted input, so decoding lives here, once,
with its guards in one spot:

* size limits (:class:`maskface.config.Limits`, from the settings) checked *before* decoding: the byte size of
  files and uploads, and the pixel count read from the image header, so a small
  file that declares a huge image (a decompression bomb) is refused without
  allocating it;
* a full decode, so truncated or corrupt files raise instead of coming back
  half grey;
* only the formats the app claims to support (JPEG, PNG, WebP, BMP, GIF, TIFF)
  are identified, so Pillow's rarer plugins never see untrusted bytes;
* one normalised result - an ``HxWx3`` ``uint8`` RGB array, upright per EXIF,
  longer side at most ``max_side`` - whatever the source's mode or dtype.

Every refusal is an :class:`ImageError` whose message is meant for users as is.
"""

from __future__ import annotations

import io
import os
import stat
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np
from PIL import Image, ImageFile, ImageOps

from .config import Limits, settings


class ImageError(ValueError):
    """An input that cannot be used as an image; the message is shown to users as is."""


#: Transparent pixels are composited onto mid-grey rather than white or black:
#: masks are often white (surgical) or black (cloth), and grey keeps either
#: distinguishable from the background of a cut-out face.
BACKGROUND_RGB = (128, 128, 128)

IMAGE_EXTENSIONS: frozenset[str] = frozenset(
    {".jpg", ".jpeg", ".png", ".webp", ".bmp", ".gif", ".tif", ".tiff"}
)

# Pillow format names matching IMAGE_EXTENSIONS ("JPEG" also opens MPO, the
# multi-picture JPEG many phones write).
_FORMATS = ("JPEG", "PNG", "WEBP", "BMP", "GIF", "TIFF")

ImageSource = str | os.PathLike | bytes | Image.Image | np.ndarray


def load_image(source: ImageSource, limits: Limits | None = None) -> np.ndarray:
    """Decode ``source`` into a new ``HxWx3`` ``uint8`` RGB array, within ``limits`` (default: the settings').

    Accepts a path, encoded bytes (an upload), a PIL image or an array.
    EXIF orientation is applied; animated GIF/WebP/PNG give their first frame
    (a PIL image gives its current frame). Colour modes are converted: grey,
    palette, CMYK, ... to RGB; alpha (also palette transparency) composited
    onto :data:`BACKGROUND_RGB`; 16-bit and float data scaled to 0-255 (see
    :func:`_to_uint8`). Arrays may be HxW, HxWx1, HxWx3 or HxWx4. Images whose
    longer side exceeds ``limits.max_side`` are downscaled to it. A 1x1 image
    is valid.

    Raises :class:`ImageError` for anything that cannot be used: no input,
    missing/unreadable file, directory, empty file, unsupported or corrupt
    data, truncated file, too many bytes or pixels, unusable array.
    """
    if source is None:
        raise ImageError("no image provided")
    limits = limits or settings().limits
    if isinstance(source, np.ndarray):
        return _downscale(_array_to_rgb(source, "image array", limits), limits.max_side)
    if isinstance(source, Image.Image):
        _check_pixels(*source.size, "image", limits)
        return _downscale(_pil_to_rgb(source, "image"), limits.max_side)
    if isinstance(source, (bytes, bytearray, memoryview)):
        name = "uploaded image"
        size = memoryview(source).nbytes
        if not size:
            raise ImageError(f"empty image data (0 bytes): {name}")
        _check_bytes(size, name, limits)
        data = bytes(source)
    elif isinstance(source, (str, os.PathLike)):
        name = os.fspath(source)
        if isinstance(name, bytes):
            name = os.fsdecode(name)
        data = _read_file(name, limits)
    else:
        raise TypeError(f"unsupported image source type: {type(source).__name__}")
    return _decode(data, name, limits)


def to_pil(image: np.ndarray) -> Image.Image:
    """Wrap an image array (any shape/dtype :func:`load_image` accepts) as an RGB PIL image."""
    return Image.fromarray(_array_to_rgb(image, "image array", None))


def iter_image_files(paths: Iterable[str | os.PathLike]) -> Iterator[Path]:
    """Expand command-line style inputs into image paths, in order.

    A file, or a path that does not exist, is yielded as given (so the caller
    reports it, even with a non-image extension). A directory is walked
    recursively, entries sorted by name, yielding files whose extension is in
    :data:`IMAGE_EXTENSIONS` (any case), skipping hidden files and folders
    (names starting with ".") and not following symlinked folders.
    """
    for path in paths:
        path = Path(path)
        if path.is_dir():
            yield from _walk(path)
        else:
            yield path


def _walk(directory: Path) -> Iterator[Path]:
    with os.scandir(directory) as scan:
        entries = sorted(scan, key=lambda entry: entry.name)
    for entry in entries:
        if entry.name.startswith("."):
            continue
        if entry.is_dir(follow_symlinks=False):
            yield from _walk(Path(entry.path))
        elif entry.is_file() and os.path.splitext(entry.name)[1].lower() in IMAGE_EXTENSIONS:
            yield Path(entry.path)


def _read_file(name: str, limits: Limits) -> bytes:
    """Read a whole regular file, at most ``limits.max_bytes`` of it."""
    try:
        info = os.stat(name)
        if stat.S_ISDIR(info.st_mode):
            raise ImageError(f"is a directory, not an image file: {name}")
        if not stat.S_ISREG(info.st_mode):
            raise ImageError(f"not a regular file: {name}")
        _check_bytes(info.st_size, name, limits)
        with open(name, "rb") as file:
            data = file.read(limits.max_bytes + 1)
    except FileNotFoundError:
        raise ImageError(f"file not found: {name}") from None
    except PermissionError:
        raise ImageError(f"permission denied: {name}") from None
    except ImageError:  # a refusal of its own (too large, a directory), not a failure to read
        raise
    except (OSError, ValueError) as exc:  # ValueError: e.g. a NUL byte in the path
        reason = getattr(exc, "strerror", None) or str(exc)
        raise ImageError(f"cannot read file: {name} ({reason})") from None
    if not data:
        raise ImageError(f"empty file (0 bytes): {name}")
    _check_bytes(len(data), name, limits)  # the file may have grown since stat
    return data


def _check_bytes(size: int, name: str, limits: Limits) -> None:
    if size > limits.max_bytes:
        raise ImageError(
            f"file too large: {name} is {size:,} bytes, which exceeds the limit of "
            f"{limits.max_bytes:,} bytes (set MASKFACE_MAX_BYTES to change it)"
        )


def _check_pixels(width: int, height: int, name: str, limits: Limits) -> None:
    if width * height > limits.max_pixels:
        raise ImageError(
            f"image too large: {name} is {width}x{height} = {width * height:,} pixels, "
            f"which exceeds the limit of {limits.max_pixels:,} "
            "(set MASKFACE_MAX_PIXELS to change it)"
        )


def _keep_pillow_check_behind(limits: Limits) -> None:
    """Raise Pillow's global bomb limit if needed so our own check always comes first.

    Pillow warns above ``MAX_IMAGE_PIXELS`` and raises above twice that, inside
    ``Image.open`` - before we see the size. Keeping it at twice our limit means
    any image we would accept passes Pillow silently, and images over our limit
    get our message (with their size) unless they exceed 4x it, where Pillow's
    error is turned into a shorter one. The value is only ever raised.
    """
    if Image.MAX_IMAGE_PIXELS is not None and Image.MAX_IMAGE_PIXELS < 2 * limits.max_pixels:
        Image.MAX_IMAGE_PIXELS = 2 * limits.max_pixels


def _decode(data: bytes, name: str, limits: Limits) -> np.ndarray:
    _keep_pillow_check_behind(limits)
    try:
        image = Image.open(io.BytesIO(data), formats=_FORMATS)
    except Image.UnidentifiedImageError:
        raise ImageError(
            f"not an image file or unsupported format (cannot identify image format): {name}"
        ) from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ImageError(
            f"image too large: {name} has far more than {limits.max_pixels:,} pixels "
            "(possible decompression bomb; set MASKFACE_MAX_PIXELS to change the limit)"
        ) from None
    except Exception as exc:  # Pillow plugins raise many types for corrupt headers
        raise ImageError(f"truncated or corrupt image file: {name}") from exc
    with image:
        width, height = image.size
        _check_pixels(width, height, name, limits)
        if max(width, height) > limits.max_side:
            # Lets JPEG decode at 1/2, 1/4 or 1/8 scale, never below the target.
            image.draft(None, _fit(width, height, limits.max_side))
        return _downscale(_pil_to_rgb(image, name), limits.max_side)


def _pil_to_rgb(image: Image.Image, name: str) -> np.ndarray:
    """Fully decode a PIL image and convert it to an upright RGB array (not resized)."""
    # Pillow only has globals: truncated files must raise rather than decode half grey, so this is set
    # where we decode, on every call (never at import), as another library may have flipped it.
    ImageFile.LOAD_TRUNCATED_IMAGES = False
    try:
        image.load()
    except Exception as exc:  # OSError for truncation; plugins raise other types too
        raise ImageError(f"truncated or corrupt image file: {name}") from exc
    try:
        image = ImageOps.exif_transpose(image)
    except Exception:  # noqa: BLE001 - broken EXIF, valid pixels: keep them as stored
        pass
    try:
        if image.mode in ("I", "F") or image.mode.startswith("I;16"):
            return _array_to_rgb(np.asarray(image), name, None)
        if image.has_transparency_data:
            return _array_to_rgb(np.asarray(image.convert("RGBA")), name, None)
        return np.array(image.convert("RGB"))
    except ValueError as exc:  # Pillow: "conversion from X to Y not supported"
        raise ImageError(f"unsupported colour mode {image.mode}: {name}") from exc


def _array_to_rgb(array: np.ndarray, name: str, limits: Limits | None) -> np.ndarray:
    """Validate and convert an image array to a new HxWx3 uint8 array."""
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[:, :, 0]
    if not (array.ndim == 2 or (array.ndim == 3 and array.shape[2] in (3, 4))):
        raise ImageError(
            f"unsupported array shape {array.shape}: {name} must be HxW (grey), "
            "HxWx1, HxWx3 (RGB) or HxWx4 (RGBA)"
        )
    height, width = array.shape[:2]
    if height == 0 or width == 0:
        raise ImageError(f"empty image (shape {array.shape}): {name}")
    if limits is not None:
        _check_pixels(width, height, name, limits)
    pixels = _to_uint8(array, name)
    if pixels.ndim == 2:
        return np.repeat(pixels[:, :, None], 3, axis=2)
    if pixels.shape[2] == 4:
        alpha = pixels[:, :, 3:].astype(np.float32) / 255.0
        background = np.array(BACKGROUND_RGB, dtype=np.float32)
        blended = pixels[:, :, :3] * alpha + background * (1.0 - alpha)
        return np.rint(blended).astype(np.uint8)
    return np.array(pixels, dtype=np.uint8, copy=True)


def _to_uint8(values: np.ndarray, name: str) -> np.ndarray:
    """Scale pixel values to uint8.

    bool -> 0/255; uint8 as is; uint16 (16-bit images) as 0-65535; other
    integers by their range: 0-255 as is, up to 65535 as 16-bit, otherwise
    refused; floats: 0-1 scaled by 255, up to 255 as is, otherwise (or NaN /
    infinity) refused.
    """
    kind = values.dtype.kind
    if kind == "b":
        return values.astype(np.uint8) * np.uint8(255)
    if values.dtype == np.uint8:
        return values
    if kind not in "uif":
        raise ImageError(f"unsupported pixel type {values.dtype}: {name}")
    if kind == "f" and not np.isfinite(values).all():
        raise ImageError(f"image contains NaN or infinite values: {name}")
    low, high = values.min(), values.max()
    if low < 0:
        raise ImageError(f"negative pixel values (minimum {low}): {name}")
    if kind == "f":
        if high <= 1.0:
            return np.rint(values.astype(np.float64) * 255.0).astype(np.uint8)
        if high <= 255.0:
            return np.rint(values).astype(np.uint8)
        raise ImageError(
            f"float pixel values must lie in 0-1 or 0-255, got up to {high}: {name}"
        )
    if (kind == "u" and values.dtype.itemsize == 2) or 255 < high <= 65535:
        return np.rint(values.astype(np.float64) / 257.0).astype(np.uint8)
    if high <= 255:
        return values.astype(np.uint8)
    raise ImageError(f"integer pixel values must lie in 0-65535, got up to {high}: {name}")


def _fit(width: int, height: int, max_side: int) -> tuple[int, int]:
    """Size with the longer side equal to ``max_side``, aspect ratio kept."""
    scale = max_side / max(width, height)
    return max(1, round(width * scale)), max(1, round(height * scale))


def _downscale(rgb: np.ndarray, max_side: int) -> np.ndarray:
    height, width = rgb.shape[:2]
    if max(width, height) <= max_side:
        return rgb
    resized = Image.fromarray(rgb).resize(
        _fit(width, height, max_side), Image.Resampling.LANCZOS, reducing_gap=3.0
    )
    return np.array(resized)
