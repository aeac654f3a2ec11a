"""Tests for maskface.masksim: the mask's geometry on real LFW faces (nose and
mouth covered, eyes free, tilt followed), determinism, synthetic keypoints,
and the ``simulate-mask`` CLI verb."""

from __future__ import annotations

import csv
import math
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

from maskface import cli
from maskface.detect import Detection, Detector, make_detector
from maskface.masksim import STYLES, TOP_RANGE, WRAP_RANGE, mask_faces_with_styles, mask_polygon, simulate_mask

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
needs_data = pytest.mark.skipif(
    not (DATA / "lfw").is_dir(), reason=f"LFW not found at {DATA / 'lfw'} (the ../shared folder beside the checkout)"
)

LFW_IMAGES = (
    "lfw/images/Aaron_Eckhart/Aaron_Eckhart_0001.jpg",
    "lfw/images/Serena_Williams/Serena_Williams_0001.jpg",
    "lfw/images/Kofi_Annan/Kofi_Annan_0001.jpg",
    "lfw/images/Doug_Racine/Doug_Racine_0001.jpg",  # turned to his left
    "lfw/images/Dan_Ackroyd/Dan_Ackroyd_0001.jpg",  # head tilted
)

# A frontal synthetic face: left eye, right eye, nose, mouth left, mouth right; box.
SYNTHETIC_KEYPOINTS = np.float32([[40, 50], [60, 50], [50, 61], [42, 72], [58, 72]])
SYNTHETIC_BOX = (28.0, 30.0, 44.0, 60.0)


@pytest.fixture(scope="module")
def detector() -> Detector:
    return make_detector("retinaface")


@pytest.fixture(scope="module")
def faces(detector: Detector) -> dict[str, tuple[np.ndarray, Detection]]:
    """Each LFW test image with its main (largest) face."""
    if not (DATA / "lfw").is_dir():
        pytest.skip(f"LFW not found at {DATA / 'lfw'}")
    found = {}
    for relative in LFW_IMAGES:
        image = np.asarray(Image.open(DATA / relative).convert("RGB"))
        found[relative] = image, max(detector.detect(image), key=lambda d: d.box[2] * d.box[3])
    return found


def inside(polygon: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Whether each point lies inside the polygon (even-odd ray casting)."""
    x, y = points[:, 0:1], points[:, 1:2]
    x1, y1 = polygon[:, 0], polygon[:, 1]
    x2, y2 = np.roll(x1, -1), np.roll(y1, -1)
    crosses = ((y1 > y) != (y2 > y)) & (x < x1 + (y - y1) * (x2 - x1) / np.where(y2 == y1, 1e-12, y2 - y1))
    return crosses.sum(axis=1) % 2 == 1


def eye_frame(keypoints: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """The eye midpoint, the unit vector down the face and the eye-mouth distance."""
    eyes = keypoints[:2].mean(axis=0)
    u = (keypoints[1] - keypoints[0]) / np.linalg.norm(keypoints[1] - keypoints[0])
    v = np.array([-u[1], u[0]])
    return eyes, v, float((keypoints[3:].mean(axis=0) - eyes) @ v)


def principal_angle(polygon: np.ndarray) -> float:
    """Angle (degrees, in (-90, 90]) of the filled polygon's major axis."""
    offset = polygon.min(axis=0) - 1
    size = tuple(np.ceil(polygon.max(axis=0) - offset + 2).astype(int) * 4)
    canvas = Image.new("L", size, 0)
    ImageDraw.Draw(canvas).polygon([tuple(p) for p in ((polygon - offset) * 4).tolist()], fill=1)
    ys, xs = np.nonzero(np.asarray(canvas))
    eigenvalues, eigenvectors = np.linalg.eigh(np.cov(np.stack((xs, ys))))
    major = eigenvectors[:, np.argmax(eigenvalues)]
    angle = math.degrees(math.atan2(major[1], major[0]))
    return angle - 180 if angle > 90 else angle + 180 if angle <= -90 else angle


def patch(image: np.ndarray, point: np.ndarray, half: int = 1) -> np.ndarray:
    x, y = np.rint(point).astype(int)
    return image[y - half : y + half + 1, x - half : x + half + 1].astype(np.int16)


# ---------------------------------------------------------------- real faces


@needs_data
@pytest.mark.parametrize("style", STYLES)
@pytest.mark.parametrize("top", TOP_RANGE)
@pytest.mark.parametrize("wrap_deg", WRAP_RANGE)
def test_polygon_covers_nose_and_mouth_but_not_eyes(faces, style: str, top: float, wrap_deg: float) -> None:
    for relative, (image, face) in faces.items():
        polygon = mask_polygon(face.keypoints, face.box, style, top=top, wrap_deg=wrap_deg)
        assert polygon.ndim == 2 and polygon.shape[1] == 2 and len(polygon) >= 20
        covered = inside(polygon, face.keypoints.astype(np.float64))
        assert covered.tolist() == [False, False, True, True, True], relative
        eyes, v, eye_mouth = eye_frame(face.keypoints)
        below_eyes = (polygon - eyes) @ v
        assert below_eyes.min() >= 0.15 * eye_mouth, relative  # the top edge clears the eyes
        assert below_eyes.max() >= 1.5 * eye_mouth, relative  # and the bottom reaches below the chin


@needs_data
@pytest.mark.parametrize("style", STYLES)
def test_mouth_pixels_change_and_eye_pixels_do_not(faces, style: str) -> None:
    for seed in range(3):
        for relative, (image, face) in faces.items():
            masked = simulate_mask(image, face.keypoints, face.box, style, seed)
            assert masked.shape == image.shape and masked.dtype == np.uint8
            left_eye, right_eye, nose, mouth_left, mouth_right = face.keypoints
            for eye in (left_eye, right_eye):
                np.testing.assert_array_equal(patch(masked, eye, 2), patch(image, eye, 2), err_msg=relative)
            for point in (nose, mouth_left, mouth_right, (mouth_left + mouth_right) / 2):
                assert np.abs(patch(masked, point) - patch(image, point)).mean() > 3, (relative, style, seed)


@needs_data
def test_same_seed_same_mask_and_different_seed_different(faces) -> None:
    image, face = faces[LFW_IMAGES[0]]
    first = simulate_mask(image, face.keypoints, face.box, rng=7)
    np.testing.assert_array_equal(first, simulate_mask(image, face.keypoints, face.box, rng=7))
    generator = np.random.default_rng(7)
    np.testing.assert_array_equal(first, simulate_mask(image, face.keypoints, face.box, rng=generator))
    assert not np.array_equal(first, simulate_mask(image, face.keypoints, face.box, rng=8))
    for style in STYLES:  # also within a style: colour, pattern and placement vary
        a, b = (simulate_mask(image, face.keypoints, face.box, style, seed) for seed in (1, 2))
        assert not np.array_equal(a, b), style


@needs_data
def test_the_input_image_is_not_modified(faces) -> None:
    image, face = faces[LFW_IMAGES[1]]
    before = image.copy()
    simulate_mask(image, face.keypoints, face.box, "cloth", 0)
    np.testing.assert_array_equal(image, before)


def eye_angle(keypoints: np.ndarray) -> float:
    """Angle (degrees) of the eye line, left eye to right eye."""
    dx, dy = keypoints[1] - keypoints[0]
    return math.degrees(math.atan2(dy, dx))


@needs_data
def test_mask_follows_a_tilted_head(faces, detector: Detector) -> None:
    image, face = faces[LFW_IMAGES[0]]
    rotated = np.asarray(Image.fromarray(image).rotate(20, Image.Resampling.BICUBIC, fillcolor=(127, 127, 127)))
    tilted = max(detector.detect(rotated), key=lambda d: d.box[2] * d.box[3])
    # PIL turns counter-clockwise, so in image coordinates (y down) the eye line's angle falls by 20 degrees.
    assert eye_angle(tilted.keypoints) == pytest.approx(eye_angle(face.keypoints) - 20, abs=6)
    for style in STYLES:
        upright = principal_angle(mask_polygon(face.keypoints, face.box, style))
        assert upright == pytest.approx(eye_angle(face.keypoints), abs=10), style
        turned = principal_angle(mask_polygon(tilted.keypoints, tilted.box, style))
        assert turned == pytest.approx(eye_angle(tilted.keypoints), abs=10), style
        assert turned - upright == pytest.approx(-20, abs=10), style


@needs_data
def test_every_face_of_an_image_is_masked(faces, detector: Detector) -> None:
    pair = np.hstack([faces[LFW_IMAGES[0]][0], faces[LFW_IMAGES[2]][0]])
    found = detector.detect(pair)
    assert len(found) == 2
    masked, styles = mask_faces_with_styles(pair, found, ("surgical", "n95"), rng=0)
    assert len(styles) == 2 and set(styles) <= {"surgical", "n95"}
    for face in found:
        mouth = face.keypoints[3:].mean(axis=0)
        assert np.abs(patch(masked, mouth) - patch(pair, mouth)).mean() > 3


# ---------------------------------------------------------------- synthetic keypoints


def test_synthetic_face_polygon_covers_mouth_and_nose_only() -> None:
    for style in STYLES:
        polygon = mask_polygon(SYNTHETIC_KEYPOINTS, SYNTHETIC_BOX, style)
        assert inside(polygon, SYNTHETIC_KEYPOINTS.astype(np.float64)).tolist() == [False, False, True, True, True]
        assert polygon[:, 1].min() >= 50 + 0.15 * 22  # top below the eye line by 15% of the eye-mouth distance
        assert polygon[:, 1].max() > 30 + 60  # below the box bottom (the chin)
        left, right = polygon[:, 0].min(), polygon[:, 0].max()
        assert left < 34 and right > 66 and abs((left + right) / 2 - 50) < 1  # to the cheeks, centred


def test_turned_face_mask_follows_the_nose_and_narrows_on_its_side() -> None:
    turned = SYNTHETIC_KEYPOINTS.copy()
    turned[2, 0] += 6  # the nose points to image right
    turned[3:, 0] += 3  # and the mouth follows, less
    polygon = mask_polygon(turned, SYNTHETIC_BOX, "n95")
    peak = polygon[np.argmin(polygon[:, 1])]  # the N95's point at the nose bridge
    assert peak[0] > 52  # moved right with the face's midline
    midline = turned[3:, 0].mean()
    assert polygon[:, 0].max() - midline < 0.7 * (midline - polygon[:, 0].min())  # the near side is foreshortened
    frontal = mask_polygon(SYNTHETIC_KEYPOINTS, SYNTHETIC_BOX, "n95")
    assert frontal[np.argmin(frontal[:, 1])][0] == pytest.approx(50, abs=0.5)


def test_simulate_mask_on_a_synthetic_image() -> None:
    image = np.full((120, 100, 3), 150, dtype=np.uint8)
    masked = simulate_mask(image, SYNTHETIC_KEYPOINTS, SYNTHETIC_BOX, "surgical", 0)
    assert np.abs(patch(masked, np.array([50, 72])) - 150).mean() > 8
    np.testing.assert_array_equal(masked[:40], image[:40])  # nothing above the eyes changes
    with pytest.raises(ValueError, match="uint8"):
        simulate_mask(image.astype(np.float32), SYNTHETIC_KEYPOINTS, SYNTHETIC_BOX)


def test_unknown_style_is_a_value_error() -> None:
    image = np.zeros((100, 100, 3), dtype=np.uint8)
    with pytest.raises(ValueError, match="surgical"):
        simulate_mask(image, SYNTHETIC_KEYPOINTS, SYNTHETIC_BOX, "bandana")
    with pytest.raises(ValueError, match="bandana"):
        mask_polygon(SYNTHETIC_KEYPOINTS, SYNTHETIC_BOX, "bandana")
    detection = Detection(SYNTHETIC_BOX, SYNTHETIC_KEYPOINTS, 1.0)
    with pytest.raises(ValueError, match="bandana"):
        mask_faces_with_styles(image, [detection], ("surgical", "bandana"))


# ---------------------------------------------------------------- CLI


@needs_data
def test_cli_simulate_mask_writes_copies_and_a_manifest(tmp_path: Path) -> None:
    source, out = tmp_path / "in", tmp_path / "out"
    (source / "sub").mkdir(parents=True)
    shutil.copy(DATA / LFW_IMAGES[0], source / "a.jpg")
    Image.open(DATA / LFW_IMAGES[1]).save(source / "sub" / "b.png")
    Image.new("RGB", (80, 80), (127, 127, 127)).save(source / "blank.png")  # no face
    (source / "notes.txt").write_text("not an image extension: ignored")
    (source / "text.jpg").write_text("a text file named like a photo")

    code = cli.main(
        ["simulate-mask", str(source), str(out), "--styles", "cloth", "n95", "--seed", "5", "--detector", "retinaface"]
    )

    assert code == 2  # text.jpg could not be read
    with open(out / "manifest.csv", newline="") as f:
        rows = {row["source"]: row for row in csv.DictReader(f)}
    assert set(rows) == {"a.jpg", "sub/b.png", "blank.png", "text.jpg"}
    assert [rows[name]["seed"] for name in ("a.jpg", "blank.png", "sub/b.png", "text.jpg")] == ["5", "6", "7", "8"]
    for name in ("a.jpg", "sub/b.png"):
        row = rows[name]
        assert row["output"] == name and row["faces"] == "1" and row["styles"] in ("cloth", "n95") and not row["error"]
        written = np.asarray(Image.open(out / name).convert("RGB"))
        assert written.shape == (150, 150, 3)
    assert Image.open(out / "a.jpg").format == "JPEG" and Image.open(out / "sub" / "b.png").format == "PNG"
    assert rows["blank.png"]["faces"] == "0" and not rows["blank.png"]["output"] and not (out / "blank.png").exists()
    assert rows["text.jpg"]["faces"] == "0" and rows["text.jpg"]["error"] and not (out / "text.jpg").exists()
