import numpy as np
import pytest

from maskface.crops import (
    GREY,
    CropSpec,
    align_face,
    box_keypoints,
    crop_faces,
    crop_square,
    pad_to_square,
    similarity_transform,
    square_region,
)


def test_square_region_is_centred_and_scaled():
    left, top, side = square_region((10, 20, 30, 60), 1.5)
    assert side == 90
    assert (left + side / 2, top + side / 2) == pytest.approx((25, 50), abs=0.5)


def test_crop_inside_image_matches_pixels():
    image = np.arange(100 * 100 * 3, dtype=np.uint32).reshape(100, 100, 3).astype(np.uint8)
    crop = crop_square(image, (10, 10, 20, 20), size=20, scale=1.0)
    np.testing.assert_array_equal(crop, image[10:30, 10:30])


def test_crop_outside_image_is_grey():
    image = np.full((50, 50, 3), 255, dtype=np.uint8)
    crop = crop_square(image, (0, 0, 50, 50), size=100, scale=2.0)
    assert crop.shape == (100, 100, 3)
    assert (crop[:20, :20] == GREY).all()
    assert (crop[45:55, 45:55] == 255).all()


def test_pad_to_square_keeps_aspect_with_grey_bands():
    image = np.full((40, 20, 3), 200, dtype=np.uint8)
    out = pad_to_square(image, 40)
    assert out.shape == (40, 40, 3)
    assert (out[:, :8] == GREY).all() and (out[:, -8:] == GREY).all()
    assert (out[:, 12:28] == 200).all()


def test_crop_faces_batches_and_handles_no_faces():
    image = np.zeros((60, 60, 3), dtype=np.uint8)
    spec = CropSpec(16, 1.2)
    assert crop_faces(image, [], spec).shape == (0, 16, 16, 3)
    assert crop_faces(image, [(0, 0, 10, 10), (30, 30, 20, 25)], spec).shape == (2, 16, 16, 3)


def test_crop_spec_round_trip():
    spec = CropSpec(120, 1.3)
    assert CropSpec.from_dict(spec.to_dict()) == spec


TEMPLATE = ((20.0, 22.0), (44.0, 22.0), (32.0, 36.0), (23.0, 48.0), (41.0, 48.0))


def test_the_similarity_transform_recovers_a_rotation_scale_and_shift():
    angle, scale, shift = np.radians(20), 1.7, np.array([5.0, -3.0])
    rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    source = np.random.default_rng(0).uniform(0, 100, (5, 2))
    target = source @ (scale * rotation).T + shift
    np.testing.assert_allclose(similarity_transform(source, target), np.hstack([scale * rotation, shift[:, None]]), atol=1e-9)


def dotted(points: np.ndarray, shape: tuple[int, int], radius: int) -> np.ndarray:
    """A black image with a differently coloured square dot at each point."""
    image = np.zeros((*shape, 3), np.uint8)
    for k, (x, y) in enumerate(np.rint(points).astype(int)):
        image[y - radius : y + radius + 1, x - radius : x + radius + 1] = [50 * (k + 1), 255 - 40 * k, 100]
    return image


@pytest.mark.parametrize("face_scale", [1.6, 5.0])  # 5: a large face, shrunk before sampling
def test_alignment_puts_each_keypoint_where_the_model_wants_it(face_scale):
    angle = np.radians(15)
    rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    keypoints = (np.array(TEMPLATE) - 32) @ (face_scale * rotation).T + [200, 200]
    image = dotted(keypoints, (400, 400), radius=int(2 * face_scale))
    chip = align_face(image, keypoints, 64, TEMPLATE)
    assert chip.shape == (64, 64, 3)
    for k, (x, y) in enumerate(TEMPLATE):
        x0, y0 = np.rint(keypoints[k]).astype(int)
        np.testing.assert_allclose(chip[int(y), int(x)], image[y0, x0], atol=30)


def test_outside_the_image_an_aligned_crop_is_grey():
    keypoints = np.array(TEMPLATE) + 40  # the face reaches out of the image, bottom right
    chip = align_face(np.full((64, 64, 3), 255, np.uint8), keypoints, 64, TEMPLATE)
    assert (chip[-1, -1] == GREY).all() and (chip[0, 0] == 255).all()


def test_an_aligned_model_without_keypoints_gets_their_usual_place_in_the_box():
    spec = CropSpec(64, 1.0, TEMPLATE)
    image = np.random.default_rng(0).integers(0, 256, (120, 100, 3), dtype=np.uint8)
    box = (10.0, 20.0, 60.0, 80.0)
    (guessed,) = crop_faces(image, [box], spec)
    np.testing.assert_array_equal(guessed, align_face(image, box_keypoints(box), 64, TEMPLATE))
    (given,) = crop_faces(image, [box], spec, [box_keypoints(box) + 5])
    assert not np.array_equal(given, guessed)


def test_an_aligned_crop_spec_round_trips_with_its_keypoints():
    spec = CropSpec(150, 1.0, TEMPLATE)
    assert CropSpec.from_dict(spec.to_dict()) == spec
    assert "keypoints" not in CropSpec(160, 1.2).to_dict()
