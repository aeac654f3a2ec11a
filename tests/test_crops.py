import numpy as np
import pytest

from maskface.crops import GREY, CropSpec, crop_faces, crop_square, pad_to_square, square_region


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
