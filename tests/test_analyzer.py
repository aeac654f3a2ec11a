import numpy as np
import pytest

from maskface.analyzer import Analyzer
from maskface.detect import Detection
from maskface.store import load_model


class FixedDetector:
    """Returns the same boxes for every image, so tests need no detector model."""

    name = "fixed"

    def __init__(self, boxes):
        self.boxes = boxes

    def detect(self, image):
        return [Detection(box, np.zeros((5, 2), np.float32), 0.9) for box in self.boxes]


class CountingModel:
    """Wraps a Keras model and records the batch sizes it was called with."""

    def __init__(self, model):
        self.model, self.calls = model, []

    def __call__(self, batch, training=False):
        self.calls.append(len(batch))
        return self.model(batch, training=training)


@pytest.fixture()
def analyzer(tiny_mask_model):
    return Analyzer(models={"mask": str(tiny_mask_model)}, detector=FixedDetector([(0, 0, 20, 20), (10, 10, 30, 30)]))


def test_every_face_gets_a_mask_prediction(analyzer, face_photo):
    faces = analyzer.analyze(face_photo)
    assert len(faces) == 2
    for face in faces:
        assert face.detected and face["mask"].label in ("with_mask", "without_mask")
        assert 0.5 <= face["mask"].score <= 1.0


def test_all_faces_of_an_image_go_through_the_model_in_one_batch(analyzer, face_photo):
    counting = CountingModel(analyzer.models["mask"].model)
    analyzer.models["mask"].model = counting
    analyzer.analyze(face_photo)
    assert counting.calls == [2]


def test_assume_face_covers_the_whole_image(analyzer, face_photo):
    (face,) = analyzer.analyze(face_photo, assume_face=True)
    assert face.box == (0.0, 0.0, 48.0, 64.0) and not face.detected and face.score == 1.0


def test_no_face_means_no_results(tiny_mask_model, face_photo):
    faces = Analyzer(models={"mask": str(tiny_mask_model)}, detector=FixedDetector([])).analyze(face_photo)
    assert faces == []


def test_inputs_path_pil_and_array_agree(analyzer, face_photo, tmp_path):
    from PIL import Image

    path = tmp_path / "face.png"
    Image.fromarray(face_photo).save(path)
    scores = [analyzer.analyze(src, assume_face=True)[0]["mask"].score for src in (path, Image.open(path), face_photo)]
    assert scores == pytest.approx([scores[0]] * 3, abs=1e-6)


def test_analyze_many_reports_errors_and_goes_on(analyzer, face_photo, tmp_path):
    bad = tmp_path / "bad.jpg"
    bad.write_text("not an image")
    results = list(analyzer.analyze_many([str(bad), face_photo]))
    assert results[0].error and "not an image" in results[0].error and results[0].faces == []
    assert results[1].error is None and len(results[1].faces) == 2


def test_model_for_the_wrong_task_is_refused(tiny_mask_model):
    stored = load_model(tiny_mask_model)
    with pytest.raises(ValueError, match="not a gender model"):
        Analyzer(models={"mask": stored, "gender": stored})


def test_json_shape_matches_cli_contract(analyzer, face_photo):
    data = analyzer.analyze(face_photo)[0].to_dict()
    assert list(data)[:3] == ["box", "detected", "score"]
    assert all(isinstance(v, int) for v in data["box"]) and len(data["box"]) == 4
    assert set(data["mask"]) == {"label", "score"}
