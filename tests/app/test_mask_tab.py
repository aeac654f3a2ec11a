"""The mask tab's handler on real photos (the browser tests come with the app issue)."""

import gradio as gr
import numpy as np
import pytest

from maskface.app import analyze_mask, build_app


def test_app_builds():
    assert isinstance(build_app(), gr.Blocks)


@pytest.mark.parametrize("choice", ["MobileNetV2 (transfer learning)", "CNN from scratch"])
def test_mask_tab_boxes_and_labels_a_real_photo(shipped_mask_models, shared_data, choice):
    path = sorted((shared_data / "mask" / "test" / "without_mask").glob("*.jpg"))[0]
    from maskface.image import load_image

    pixels = load_image(path)
    annotated, rows = analyze_mask(pixels, choice)
    assert annotated.shape == pixels.shape and not np.array_equal(annotated, pixels)
    assert rows and rows[0][1] in ("with_mask", "without_mask") and 0.5 <= rows[0][2] <= 1


def test_bad_input_is_a_gradio_error():
    with pytest.raises(gr.Error, match="no image"):
        analyze_mask(None, "CNN from scratch")
