"""Cut faces out of images the way a model expects them.

Training images are whole face photos padded to a square; at inference a
detector box is enlarged by the model's ``scale`` and squared, so that both
paths show the model the same framing. Everything outside the image is filled
with mid-grey, which is what the padding in training looks like too.

:func:`locate_face` picks *the* face of a face photo (the detection nearest
the centre), the one way data preparation, evaluation, distillation and the
benchmarks frame a labelled photo.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image

if TYPE_CHECKING:
    from .detect import Detector

GREY = 127

Box = tuple[float, float, float, float]

#: The face square used when no face is detected in a face photo: LFW's face region, the central 80 px of
#: its 150 px photos.
FALLBACK_SIDE = 80
#: Mean RetinaFace keypoints on the ID-M images, as fractions of the central FALLBACK_SIDE square: where
#: the mask simulator draws a mask when no face is found.
FALLBACK_KEYPOINTS = np.float32([[0.35, 0.41], [0.66, 0.41], [0.50, 0.59], [0.375, 0.74], [0.64, 0.74]])


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


@dataclass(frozen=True)
class LocatedFace:
    """An image and the face used in it; ``detected`` is False for the central fallback square."""

    image: np.ndarray
    box: Box
    keypoints: np.ndarray
    detected: bool


def locate_face(image: np.ndarray, detector: Detector, fallback_side: int = FALLBACK_SIDE) -> LocatedFace:
    """The detection whose box centre is closest to the image centre, else the central fallback square.

    >>> import numpy as np
    >>> class Nothing:
    ...     def detect(self, image): return []
    >>> located = locate_face(np.zeros((150, 150, 3), np.uint8), Nothing())
    >>> located.box, located.detected
    ((35.0, 35.0, 80, 80), False)
    """
    height, width = image.shape[:2]
    centre = np.array([width / 2, height / 2])
    detections = detector.detect(image)
    if detections:
        best = min(detections, key=lambda d: np.hypot(*(np.array(d.box[:2]) + np.array(d.box[2:]) / 2 - centre)))
        return LocatedFace(image, best.box, best.keypoints, True)
    left, top = (width - fallback_side) / 2, (height - fallback_side) / 2
    keypoints = FALLBACK_KEYPOINTS * fallback_side + np.float32([left, top])
    return LocatedFace(image, (left, top, fallback_side, fallback_side), keypoints, False)
