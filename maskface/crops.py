"""Cut faces out of images the way a model expects them.

Training images are whole face photos padded to a square; at inference a
detector box is enlarged by the model's ``scale`` and squared, so that both
paths show the model the same framing. Everything outside the image is filled
with mid-grey, which is what the padding in training looks like too.

Aligned models (a spec with ``keypoints``) get the face rotated, scaled and
shifted so that the detector's five keypoints (eyes, nose tip, mouth corners)
land as close as possible to where the model expects them (a least-squares
similarity transform), which is how face-recognition networks are trained.

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


Keypoints = tuple[tuple[float, float], ...]
#: Where the detector's five keypoints lie in its box, as fractions of the box's width and height
#: (means over 1,500 LFW faces): the guess for a face given without keypoints (``--assume-face``).
BOX_KEYPOINTS = np.float32([[0.268, 0.394], [0.712, 0.388], [0.490, 0.577], [0.308, 0.738], [0.695, 0.733]])


@dataclass(frozen=True)
class CropSpec:
    """How a model wants its face crops: square ``size`` pixels, box scaled by ``scale``, or, with
    ``keypoints``, aligned so that the detector's five keypoints land at these crop coordinates."""

    size: int
    scale: float = 1.0
    keypoints: Keypoints | None = None

    def to_dict(self) -> dict:
        data: dict = {"size": self.size, "scale": self.scale}
        if self.keypoints is not None:
            data["keypoints"] = [list(point) for point in self.keypoints]
        return data

    @classmethod
    def from_dict(cls, data: dict) -> CropSpec:
        keypoints = data.get("keypoints")
        return cls(
            size=int(data["size"]),
            scale=float(data.get("scale", 1.0)),
            keypoints=None if keypoints is None else tuple((float(x), float(y)) for x, y in keypoints),
        )


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


def similarity_transform(source: np.ndarray, target: np.ndarray) -> np.ndarray:
    """The 2x3 matrix of the rotation, uniform scale and shift that best maps ``source`` points onto
    ``target`` points in the least-squares sense (Umeyama's method)."""
    source, target = np.asarray(source, np.float64), np.asarray(target, np.float64)
    source_mean, target_mean = source.mean(axis=0), target.mean(axis=0)
    s, t = source - source_mean, target - target_mean
    u, singular, vt = np.linalg.svd(t.T @ s / len(s))
    sign = np.ones(2)
    if np.linalg.det(u) * np.linalg.det(vt) < 0:  # a reflection fits better: take the best rotation instead
        sign[1] = -1
    rotation = u @ np.diag(sign) @ vt
    scale = float((singular * sign).sum() / (s**2).sum(axis=1).mean())
    return np.hstack([scale * rotation, (target_mean - scale * rotation @ source_mean)[:, None]])


def align_face(image: np.ndarray, keypoints: np.ndarray, size: int, template: Keypoints) -> np.ndarray:
    """A ``size`` x ``size`` RGB crop in which ``keypoints`` land nearest ``template``; grey outside the image.

    A face much larger than the crop is first shrunk by a whole factor (box
    filter), so that the bilinear sampling does not alias.
    """
    points = np.asarray(keypoints, np.float64)
    matrix = similarity_transform(points, template)
    source = Image.fromarray(image)
    shrink = int(1 / np.sqrt(abs(np.linalg.det(matrix[:, :2]))) / 1.5)
    if shrink > 1:
        source = source.reduce(shrink)
        matrix = similarity_transform(points / shrink, template)
    inverse = np.linalg.inv(np.vstack([matrix, [0, 0, 1]]))[:2]
    chip = source.transform(
        (size, size), Image.Transform.AFFINE, inverse.ravel().tolist(), Image.Resampling.BILINEAR, fillcolor=(GREY,) * 3
    )
    return np.asarray(chip)


def box_keypoints(box: Box) -> np.ndarray:
    """The usual place of the five keypoints in a detector box (:data:`BOX_KEYPOINTS`)."""
    x, y, w, h = box
    return BOX_KEYPOINTS * np.float32([w, h]) + np.float32([x, y])


def crop_face(image: np.ndarray, box: Box, spec: CropSpec, keypoints: np.ndarray | None = None) -> np.ndarray:
    """One face as ``spec`` wants it: the square around ``box``, or aligned on ``keypoints`` (guessed from
    the box when missing) for an aligned model."""
    if spec.keypoints is None:
        return crop_square(image, box, spec.size, spec.scale)
    return align_face(image, box_keypoints(box) if keypoints is None else keypoints, spec.size, spec.keypoints)


def crop_faces(
    image: np.ndarray, boxes: list[Box], spec: CropSpec, keypoints: list[np.ndarray | None] | None = None
) -> np.ndarray:
    """Stack the crops of all ``boxes`` (with their ``keypoints``, if any) as one uint8 batch (N, size, size, 3)."""
    if not boxes:
        return np.zeros((0, spec.size, spec.size, 3), dtype=np.uint8)
    keypoints = keypoints or [None] * len(boxes)
    return np.stack([crop_face(image, box, spec, points) for box, points in zip(boxes, keypoints)])


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
