"""The Mask detection and Gender tabs through their API (gradio_client), on tiny models."""

from __future__ import annotations

import av
import httpx
import numpy as np
import pytest
from gradio_client.exceptions import AppError

from maskface.app.common import EXAMPLES_DIR as EXAMPLES
from maskface.image import load_image

COLLAGE_BOXES = [[178, 57, 96, 120], [652, 89, 170, 198]]  # astronaut, masked Grace Hopper (RetinaFace)


def near(box, expected, tolerance=12):
    return all(abs(a - b) <= tolerance for a, b in zip(box, expected, strict=True))


def test_mask_photo_boxes_and_labels_every_face(client, example, tiny_models):
    image, table = client.predict(example("collage-two-faces.jpg"), str(tiny_models["mask"]), api_name="/mask")
    assert table["headers"] == ["model", "face", "mask", "confidence", "detector score", "box (x, y, w, h)"]
    rows = table["data"]
    assert [row[1] for row in rows] == [1, 2]
    assert all(row[3].endswith("%") and 50 <= float(row[3][:-1]) < 100 for row in rows)  # never rounded up to 100%
    assert all(row[2] in ("with_mask", "without_mask") and float(row[4]) > 0.9 for row in rows)
    assert sorted(near(row[5], box) for row in rows for box in COLLAGE_BOXES).count(True) == 2
    annotated, original = load_image(image), load_image(EXAMPLES / "collage-two-faces.jpg")
    height, width = original.shape[:2]
    assert annotated.shape[1] == width and annotated.shape[0] > height  # the legend under the photo
    assert np.abs(annotated[:height].astype(int) - original).mean() > 0.5  # boxes and labels drawn


def test_side_by_side_shows_every_model(client, example):
    image, table = client.predict(example("collage-two-faces.jpg"), "both", api_name="/mask")
    assert len(table["data"]) == 4  # two faces, two models
    height, width = load_image(image).shape[:2]
    assert width == 2 * 949 and height > 512  # two panels under a title band


def test_a_missing_photo_is_a_clear_error(client, tiny_models):
    with pytest.raises(AppError, match="Add a photo first"):
        client.predict(None, str(tiny_models["mask"]), api_name="/mask")


def test_an_unknown_model_choice_is_refused_before_it_is_queued(client, example):
    # Gradio checks the inputs when the request joins the queue (before the session's share is counted);
    # gradio_client shows only the status, the reason is in the answer's body
    with pytest.raises(httpx.HTTPStatusError) as refused:
        client.predict(example("astronaut.jpg"), "no-such-model", api_name="/mask")
    assert refused.value.response.status_code == 400
    assert "not in the list of choices" in refused.value.response.json()["detail"]


def test_gender_gives_each_face_a_gender_and_its_mask(client, example, tiny_models):
    image, table = client.predict(example("collage-two-faces.jpg"), str(tiny_models["gender"]), api_name="/gender")
    assert table["headers"][2:5] == ["gender", "confidence", "mask"]
    rows = table["data"]
    assert len(rows) == 2
    assert all(row[2] in ("female", "male") and row[4].split()[0] in ("with", "without") for row in rows)


def test_a_webcam_frame_comes_back_annotated(served, tiny_models):
    # gradio_client cannot drive a stream event, so the handler is called as the stream calls it
    from maskface.app.task_tab import TaskTab

    frame = load_image(EXAMPLES / "astronaut.jpg")
    annotated = TaskTab(served.services, "mask").stream(frame, str(tiny_models["mask"]))
    height, width = frame.shape[:2]
    assert annotated.shape[1] == width and annotated.shape[0] > height  # the legend under the frame
    assert not np.array_equal(annotated[:height], frame)
    assert TaskTab(served.services, "mask").stream(None, str(tiny_models["mask"])) is None


def test_a_video_comes_back_annotated_with_a_per_frame_summary(client, tiny_models):
    from gradio_client import handle_file

    video, summary = client.predict(
        handle_file(str(EXAMPLES / "two-faces.mp4")), str(tiny_models["mask"]), api_name="/mask_video"
    )
    assert summary["headers"] == ["time (s)", "model", "faces", "with_mask", "without_mask"]
    rows = summary["data"]
    assert [row[0] for row in rows] == [0.0, 0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 3.5]  # the 4 s example, every 0.5 s
    assert all(row[2] == row[3] + row[4] and row[2] >= 1 for row in rows)
    with av.open(video) as container:
        stream = container.streams.video[0]
        assert stream.codec_context.name == "h264"
        assert sum(1 for _ in container.decode(stream)) == len(rows)


def test_a_file_that_is_not_a_video_is_a_clear_error(client, tmp_path, tiny_models):
    from gradio_client import handle_file

    fake = tmp_path / "clip.mp4"
    fake.write_bytes(b"not a video" * 100)
    with pytest.raises(AppError, match="cannot be read as a video"):
        client.predict(handle_file(str(fake)), str(tiny_models["mask"]), api_name="/mask_video")


def test_inference_stores_nothing_in_the_app_folders(served, client, example, tiny_models, app_settings):
    def files():
        folders = (app_settings.gallery, app_settings.labels_dir)
        return sorted(str(p) for folder in folders if folder.exists() for p in folder.rglob("*"))

    before = files()
    client.predict(example("astronaut.jpg"), str(tiny_models["mask"]), api_name="/mask")
    client.predict(example("astronaut.jpg"), str(tiny_models["gender"]), api_name="/gender")
    client.predict(example("astronaut.jpg"), api_name="/identify")
    assert files() == before


@pytest.mark.parametrize(
    ("name", "content", "api", "says"),
    [
        ("my notes.txt", b"shopping list\n", "/mask", "not an image"),
        ("empty.jpg", b"", "/gender", "empty file"),
        ("holiday clip.mp4", b"not a video" * 100, "/mask_video", "cannot be read as a video"),
    ],
)
def test_a_bad_file_is_named_by_its_own_name_never_by_a_server_path(
    client, tmp_path, app_settings, name, content, api, says
):
    from gradio_client import handle_file

    bad = tmp_path / name
    bad.write_bytes(content)
    with pytest.raises(AppError) as refused:
        client.predict(handle_file(str(bad)), api_name=api)
    message = str(refused.value)
    assert says in message and name in message
    assert "/" not in message and str(app_settings.temp_dir) not in message and "MASKFACE_" not in message
