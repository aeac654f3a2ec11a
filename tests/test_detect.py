"""Tests for maskface.detect: helpers on synthetic arrays, coordinate mapping,
and detection on real images from ../shared/data (skipped when absent)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from maskface.detect import (
    DETECTORS,
    MAX_SIDE,
    RETINAFACE_MIN_SIDE,
    Detection,
    Detector,
    _Attempt,
    _ChainDetector,
    decode_boxes,
    decode_landmarks,
    make_detector,
    nms,
    retinaface_anchors,
)

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
needs_data = pytest.mark.skipif(not DATA.is_dir(), reason=f"shared data not found at {DATA}")

LFW_IMAGES = (
    "lfw/images/Aaron_Eckhart/Aaron_Eckhart_0001.jpg",
    "lfw/images/Serena_Williams/Serena_Williams_0001.jpg",
    "lfw/images/Kofi_Annan/Kofi_Annan_0001.jpg",
)
MASKED_IMAGE = "mask/test/with_mask/with_mask_0b23c52c91f1.jpg"
SCENES = (  # several people wearing masks
    "mask/test/with_mask/with_mask_5159b7a5beb0.jpg",
    "mask/test/with_mask/with_mask_403b2a0d9d1e.jpg",
)


@pytest.fixture(scope="module")
def detectors() -> dict[str, Detector]:
    """One detector per setting, shared by the module (models load lazily)."""
    return {name: make_detector(name) for name in DETECTORS}


def load(relative: str) -> np.ndarray:
    """An RGB image from the shared data."""
    return np.asarray(Image.open(DATA / relative).convert("RGB"))


# ---------------------------------------------------------------- helpers


def test_unknown_detector_name_lists_valid_names() -> None:
    with pytest.raises(ValueError, match="retinaface") as info:
        make_detector("haar")
    assert all(name in str(info.value) for name in DETECTORS)


def test_nms_keeps_best_of_overlapping_boxes() -> None:
    boxes = np.array([[0, 0, 10, 10], [1, 1, 10, 10], [50, 50, 10, 10], [0, 0, 10, 10.5]], dtype=np.float32)
    scores = np.array([0.9, 0.95, 0.8, 0.5], dtype=np.float32)
    assert nms(boxes, scores, 0.4).tolist() == [1, 2]
    assert nms(boxes, scores, 1.0).tolist() == [1, 0, 2, 3]
    assert nms(np.zeros((0, 4), np.float32), np.zeros(0, np.float32), 0.4).size == 0


def test_anchors_layout() -> None:
    height, width = 100, 130
    anchors = retinaface_anchors(height, width)
    expected = sum(2 * math.ceil(height / s) * math.ceil(width / s) for s in (8, 16, 32))
    assert anchors.shape == (expected, 4)
    np.testing.assert_allclose(anchors[0], [4 / width, 4 / height, 16 / width, 16 / height], rtol=1e-6)
    np.testing.assert_allclose(anchors[1, 2:], [32 / width, 32 / height], rtol=1e-6)
    np.testing.assert_allclose(anchors[-1, 2:], [512 / width, 512 / height], rtol=1e-6)


def test_decoding_with_variances() -> None:
    anchors = np.array([[0.5, 0.5, 0.2, 0.4]], dtype=np.float32)
    np.testing.assert_allclose(decode_boxes(np.zeros((1, 4), np.float32), anchors), [[0.4, 0.3, 0.2, 0.4]], rtol=1e-6)
    # a unit centre offset moves by 0.1 anchor size; a unit size offset scales by exp(0.2)
    box = decode_boxes(np.array([[1, 0, 1, 0]], np.float32), anchors)[0]
    w = 0.2 * math.exp(0.2)
    np.testing.assert_allclose(box, [0.5 + 0.02 - w / 2, 0.3, w, 0.4], rtol=1e-6)
    points = decode_landmarks(np.tile([1.0, -1.0], 5)[None].astype(np.float32), anchors)
    assert points.shape == (1, 5, 2)
    np.testing.assert_allclose(points[0], np.tile([0.52, 0.46], (5, 1)), rtol=1e-6)


class _SquareFinder:
    """Fake backend: 'detects' the bounding box of the white pixels, with
    keypoints at its corners (eyes top, mouth bottom) and centre (nose), so the
    mapping of coordinates through padding, resizing and mirroring can be checked."""

    min_side = RETINAFACE_MIN_SIDE

    def __init__(self) -> None:
        self.shapes: list[tuple[int, ...]] = []

    def __call__(self, image: np.ndarray) -> list[Detection]:
        self.shapes.append(image.shape)
        ys, xs = np.nonzero(image.min(axis=2) > 200)
        if xs.size == 0:
            return []
        x1, y1, x2, y2 = xs.min(), ys.min(), xs.max() + 1, ys.max() + 1
        keypoints = _corners_and_centre(x1, y1, x2 - x1, y2 - y1)
        return [Detection((float(x1), float(y1), float(x2 - x1), float(y2 - y1)), keypoints, 1.0)]


def _corners_and_centre(x: float, y: float, w: float, h: float) -> np.ndarray:
    """Keypoints of a box: top-left, top-right, centre, bottom-left, bottom-right."""
    return np.array([[x, y], [x + w, y], [x + w / 2, y + h / 2], [x, y + h], [x + w, y + h]], np.float32)


@pytest.mark.parametrize("flip", [False, True])
@pytest.mark.parametrize(("height", "width", "pad"), [(100, 80, False), (100, 80, True), (900, 2000, True)])
def test_coordinates_mapped_back_after_resize_padding_and_mirroring(
    height: int, width: int, pad: bool, flip: bool
) -> None:
    image = np.zeros((height, width, 3), np.uint8)
    x, y, w, h = width // 5, height // 5, width // 3, height // 2
    image[y : y + h, x : x + w] = 255
    backend = _SquareFinder()
    (found,) = _ChainDetector("fake", (_Attempt(backend, pad, flip),)).detect(image)
    work_h, work_w = backend.shapes[0][:2]
    assert max(work_h, work_w) == (RETINAFACE_MIN_SIDE if max(height, width) < RETINAFACE_MIN_SIDE else MAX_SIDE)
    tolerance = 1 + 2 * max(width / work_w, height / work_h)  # interpolation blurs the edges
    np.testing.assert_allclose(found.box, (x, y, w, h), atol=tolerance)
    np.testing.assert_allclose(found.keypoints, _corners_and_centre(x, y, w, h), atol=tolerance)


class _FixedBackend:
    """Fake backend returning fixed detections in working-image coordinates."""

    min_side = 0

    def __init__(self, *boxes: tuple[float, float, float, float]) -> None:
        self.boxes = boxes

    def __call__(self, image: np.ndarray) -> list[Detection]:
        return [Detection(box, np.zeros((5, 2), np.float32), 0.9) for box in self.boxes]


def test_boxes_are_clipped_to_the_image_and_dropped_when_outside() -> None:
    image = np.full((60, 50, 3), 127, np.uint8)  # padded by 15 px left/right, 18 px top/bottom
    backend = _FixedBackend((5, 8, 40, 40), (0, 0, 10, 10))  # the second lies in the padding only
    (found,) = _ChainDetector("fake", (_Attempt(backend, pad=True),)).detect(image)
    np.testing.assert_allclose(found.box, (0, 0, 30, 30))
    np.testing.assert_allclose(found.keypoints, np.full((5, 2), [-15, -18]))


def test_rejects_non_rgb_uint8(detectors: dict[str, Detector]) -> None:
    with pytest.raises(ValueError):
        detectors["retinaface"].detect(np.zeros((50, 50), np.uint8))
    with pytest.raises(ValueError):
        detectors["retinaface"].detect(np.zeros((50, 50, 3), np.float32))


@pytest.mark.parametrize("name", ["retinaface", "auto"])
def test_blank_grey_image_has_no_face(detectors: dict[str, Detector], name: str) -> None:
    assert detectors[name].detect(np.full((240, 320, 3), 127, np.uint8)) == []


# ---------------------------------------------------------------- real images


@needs_data
@pytest.mark.parametrize("name", DETECTORS)
@pytest.mark.parametrize("relative", LFW_IMAGES)
def test_lfw_single_central_face(detectors: dict[str, Detector], name: str, relative: str) -> None:
    image = load(relative)
    (face,) = detectors[name].detect(image)
    x, y, w, h = face.box
    assert abs(x + w / 2 - 75) < 20 and abs(y + h / 2 - 75) < 25
    assert 40 < w < 120 and 0 < face.score <= 1
    assert face.keypoints.shape == (5, 2) and face.keypoints.dtype == np.float32
    kx, ky = face.keypoints[:, 0], face.keypoints[:, 1]
    assert np.all((kx >= x) & (kx <= x + w) & (ky >= y) & (ky <= y + h))
    left_eye, right_eye, nose, mouth_left, mouth_right = face.keypoints
    assert left_eye[0] < right_eye[0] and mouth_left[0] < mouth_right[0]
    assert max(left_eye[1], right_eye[1]) < nose[1] < min(mouth_left[1], mouth_right[1])


@needs_data
@pytest.mark.parametrize(("canvas_h", "canvas_w", "dx", "dy"), [(700, 1000, 610, 230), (120, 110, -20, -15)])
def test_box_follows_the_face_on_another_canvas(
    detectors: dict[str, Detector], canvas_h: int, canvas_w: int, dx: int, dy: int
) -> None:
    """Paste an LFW image onto a larger canvas, or crop it, and check the
    box moves by the offset (different upscaling / padding paths)."""
    image = load(LFW_IMAGES[0])
    canvas = Image.new("RGB", (canvas_w, canvas_h), (90, 110, 100))
    canvas.paste(Image.fromarray(image), (dx, dy))
    (reference,) = detectors["auto"].detect(image)
    (moved,) = detectors["auto"].detect(np.asarray(canvas))
    x, y, w, h = reference.box
    expected = (x + dx, y + dy, x + w + dx, y + h + dy)
    expected = (max(expected[0], 0), max(expected[1], 0), min(expected[2], canvas_w), min(expected[3], canvas_h))
    mx, my, mw, mh = moved.box
    np.testing.assert_allclose((mx, my, mx + mw, my + mh), expected, atol=0.1 * w)
    np.testing.assert_allclose(moved.keypoints, reference.keypoints + [dx, dy], atol=0.1 * w)


@needs_data
@pytest.mark.parametrize("name", ["auto", "retinaface", "mtcnn"])
def test_masked_face_is_found(detectors: dict[str, Detector], name: str) -> None:
    faces = detectors[name].detect(load(MASKED_IMAGE))
    assert faces and faces[0].score >= 0.5


@needs_data
@pytest.mark.parametrize("relative", SCENES)
def test_scene_with_several_masked_people(detectors: dict[str, Detector], relative: str) -> None:
    faces = detectors["auto"].detect(load(relative))
    assert len(faces) >= 2
    assert [f.score for f in faces] == sorted((f.score for f in faces), reverse=True)
