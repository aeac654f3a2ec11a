"""Pictures that read: labels inside the image, numbered faces, honest percentages, a legend."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from maskface.draw import COLOURS, MIN_SIDE, annotate, face_texts, percent, place_label
from maskface.face import Face, Prediction


def mask_face(box, label="with_mask", score=0.996) -> Face:
    return Face(box=box, score=0.99, results={"mask": Prediction(label, score)})


@pytest.mark.parametrize(("score", "text"), [(0.996, "99.6%"), (0.99999, "99.9%"), (1.0, "99.9%"), (0.5, "50.0%"), (-0.2, "0.0%")])
def test_a_percentage_is_rounded_down_and_never_100(score: float, text: str) -> None:
    assert percent(score) == text


def test_labels_stay_inside_the_image_and_off_each_other() -> None:
    image = (200, 150)
    taken = []
    for box in [(0, 0, 60, 60), (70, 5, 60, 60), (140, 10, 60, 60), (150, 100, 50, 50)]:
        rect = place_label(box, (70, 14), image, taken)
        assert rect is not None
        assert rect[0] >= 0 and rect[1] >= 0 and rect[2] <= image[0] and rect[3] <= image[1]
        assert not any(rect[0] < o[2] and o[0] < rect[2] and rect[1] < o[3] and o[1] < rect[3] for o in taken)
        taken.append(rect)


def test_a_label_wider_than_the_image_has_no_place() -> None:
    assert place_label((0, 0, 10, 10), (300, 14), (200, 150), []) is None


def test_a_small_photo_with_three_faces_is_enlarged_numbered_and_given_a_legend() -> None:
    faces = [mask_face((10, 30, 50, 55)), mask_face((70, 35, 50, 55), "without_mask", 0.87), mask_face((135, 30, 50, 55))]
    drawn = np.asarray(annotate(np.full((150, 200, 3), 128, np.uint8), faces, "mask"))
    scale = MIN_SIDE // 200 + 1
    height = 150 * scale
    assert drawn.shape[1] == 200 * scale and drawn.shape[0] > height  # enlarged, legend below
    photo, legend = drawn[:height], drawn[height:]
    for colour in (COLOURS["with_mask"], COLOURS["without_mask"]):
        assert (np.abs(legend.astype(int) - colour).sum(axis=2) == 0).any()  # a swatch of each class
    # each box drawn in its class's colour at the scaled position
    x, y = 70 * scale, 35 * scale
    assert tuple(photo[y + 40, x]) == COLOURS["without_mask"]


def test_classes_have_distinct_colours() -> None:
    assert len(set(COLOURS.values())) == len(COLOURS)


def test_identity_is_drawn_as_the_name_never_as_a_percentage() -> None:
    texts = face_texts(2, Prediction("unknown", -0.15), "identity")
    assert texts[0] == "2 unknown" and "%" not in "".join(texts)


def test_a_label_that_fits_nowhere_shrinks_to_the_faces_number() -> None:
    faces = [mask_face((0, 0, 200, 150))]  # the face fills the photo: no room above or below
    image = annotate(np.zeros((150, 200, 3), np.uint8), faces, "mask", legend=False)
    assert isinstance(image, Image.Image) and image.size == (600, 450)
