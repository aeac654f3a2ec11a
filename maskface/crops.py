"""Cut faces out of images the way a model expects them.

Training images are whole face photos padded to a square; at inference a
detector box is enlarged by the model's ``scale`` and squared, so that both
paths show the model the same framing. Everything outside the image is filled
with mid-grey, which is what the padding in training looks like too.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image

GREY = 127

Box = tuple[float, float, float, float]


@dataclass(frozen=True)
class CropSpec:
    """How a model wants its face crops: square ``size`` pixels, box scaled by ``scale``."""

    size: int
    scale: float = 1.0

    def to_dict(self) -> dict:
        return {"size": self.size, "scale": self.scale}

    @classmethod
    def from_dict(cls, data: dict) -> CropSpec:
        return cls(size=int(data["size"]), scale=float(data.get("scale", 1.0)))


def square_region(box: Box, scale: float) -> tuple[int, int, int]:
    """The square (left, top, side) centred on ``box`` whose side is the box's longer side x ``scale``."""
    x, y, w, h = box
    side = max(1, int(round(max(w, h) * scale)))
    left = int(round(x + w / 2 - side / 2))
    top = int(round(y + h / 2 - side / 2))
    return left, top, side


def crop_square(image: np.ndarray, box: Box, size: int, scale: float = 1.0) -> np.ndarray:
    """Return a ``size`` x ``size`` RGB crop of ``box`` enlarged by ``scale``, grey outside the image."""
    height, width = image.shape[:2]
    left, top, side = square_region(box, scale)
    canvas = np.full((side, side, 3), GREY, dtype=np.uint8)
    src_x0, src_y0 = max(left, 0), max(top, 0)
    src_x1, src_y1 = min(left + side, width), min(top + side, height)
    if src_x1 > src_x0 and src_y1 > src_y0:
        canvas[src_y0 - top : src_y1 - top, src_x0 - left : src_x1 - left] = image[src_y0:src_y1, src_x0:src_x1]
    if side == size:
        return canvas
    return np.asarray(Image.fromarray(canvas).resize((size, size), Image.Resampling.BILINEAR))


def whole_image_box(image: np.ndarray) -> Box:
    """The box covering the whole image, for inputs that already are face crops."""
    height, width = image.shape[:2]
    return (0.0, 0.0, float(width), float(height))


def pad_to_square(image: np.ndarray, size: int) -> np.ndarray:
    """Pad a face photo to a square with grey and resize it: the training-time framing."""
    return crop_square(image, whole_image_box(image), size, 1.0)


def crop_faces(image: np.ndarray, boxes: list[Box], spec: CropSpec) -> np.ndarray:
    """Stack the crops of all ``boxes`` as one uint8 batch (N, size, size, 3) for a model."""
    if not boxes:
        return np.zeros((0, spec.size, spec.size, 3), dtype=np.uint8)
    return np.stack([crop_square(image, box, spec.size, spec.scale) for box in boxes])
