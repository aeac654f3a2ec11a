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
        return [Detection(box, keypoints_in(box), 0.9) for box in self.boxes]


def keypoints_in(box) -> np.ndarray:
    """Eyes, nose and mouth corners where they usually sit in a face box."""
    x, y, w, h = box
    return np.float32([[0.3, 0.4], [0.7, 0.4], [0.5, 0.6], [0.35, 0.78], [0.65, 0.78]]) * [w, h] + [x, y]


@pytest.fixture()
def analyzer(tiny_mask_model):
    return Analyzer(models={"mask": str(tiny_mask_model)}, detector=FixedDetector([(0, 0, 20, 20), (10, 10, 30, 30)]))


def test_every_face_gets_a_mask_prediction(analyzer, face_photo):
    faces = analyzer.analyze(face_photo)
    assert len(faces) == 2
    for face in faces:
        assert face.detected and face["mask"].label in ("with_mask", "without_mask")
        assert 0.5 <= face["mask"].score <= 1.0


def test_all_faces_of_an_image_go_through_the_model_in_one_batch(analyzer, face_photo, monkeypatch):
    from maskface import analyzer as analyzer_module

    calls, predictor_for = [], analyzer_module.predictor_for

    def counting(model):
        def predict(batch):
            calls.append(len(batch))
            return predictor_for(model)(batch)

        return predict

    monkeypatch.setattr(analyzer_module, "predictor_for", counting)
    analyzer.analyze(face_photo)
    assert calls == [2]


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


# --- identity -----------------------------------------------------------------------------------


def photo(seed: int) -> np.ndarray:
    """A 64x64 picture that differs by seed: a stand-in 'person' for the tiny embedding model."""
    return np.random.default_rng(seed).integers(0, 256, (64, 64, 3), dtype=np.uint8)


@pytest.fixture()
def identifying(tiny_mask_model, tiny_identity_model, tmp_path):
    return Analyzer(
        models={"mask": str(tiny_mask_model), "identity": str(tiny_identity_model)},
        detector=FixedDetector([(8, 8, 48, 48)]),
        gallery=tmp_path / "gallery",
    )


def test_enrolled_people_are_named_and_strangers_are_unknown(identifying):
    identifying.gallery.threshold = 0.9
    identifying.enroll("Ada", [photo(1), photo(2)])
    identifying.enroll("Grace", [photo(3)])
    (face,) = identifying.analyze(photo(1))
    assert face["identity"].label == "Ada" and face["identity"].score > 0.99
    assert [name for name, _ in face["identity"].candidates] == ["Ada", "Grace"]
    assert face["mask"].label in ("with_mask", "without_mask")
    (stranger,) = identifying.analyze(photo(99))
    assert stranger["identity"].label == "unknown" and stranger["identity"].candidates


def test_enrolment_adds_simulated_mask_copies_of_each_photo(identifying):
    identifying.enroll("Ada", [photo(1), photo(2)], masked_copies=2)
    assert identifying.gallery.people()[0]["embeddings"] == 2 * 3


@pytest.mark.parametrize(("boxes", "message"), [([], "shows no face"), ([(0, 0, 20, 20), (30, 30, 20, 20)], "shows 2 faces")])
def test_an_enrolment_photo_must_show_exactly_one_face(identifying, boxes, message):
    identifying.enroll("Ada", [photo(1)])
    identifying._detector = FixedDetector(boxes)
    with pytest.raises(ValueError, match=f"photo 1 {message}"):
        identifying.enroll("Grace", [photo(2), photo(3)])
    assert [p["name"] for p in identifying.gallery.people()] == ["Ada"]


def test_the_gallery_survives_a_new_analyzer(identifying, tiny_mask_model, tiny_identity_model):
    identifying.enroll("Ada", [photo(1)])
    again = Analyzer(
        models={"mask": str(tiny_mask_model), "identity": str(tiny_identity_model)},
        detector=FixedDetector([(8, 8, 48, 48)]),
        gallery=identifying.gallery.path,
    )
    assert [p["name"] for p in again.gallery.people()] == ["Ada"]


def test_without_a_gallery_faces_have_no_identity_and_enrolment_is_refused(analyzer, face_photo):
    assert "identity" not in analyzer.analyze(face_photo)[0].results
    with pytest.raises(ValueError, match="no gallery"):
        analyzer.enroll("Ada", [face_photo])


def test_a_classifier_cannot_serve_as_the_identity_model(tiny_mask_model, tmp_path):
    with pytest.raises(ValueError, match="not an identity model"):
        Analyzer(models={"identity": str(tiny_mask_model)}, gallery=tmp_path / "g")


def test_a_new_gallery_takes_the_models_calibrated_threshold(tiny_identity_model, tmp_path):
    import shutil

    from maskface.store import read_spec, write_spec

    folder = tmp_path / "calibrated"
    shutil.copytree(tiny_identity_model, folder)
    spec = read_spec(folder)
    spec.metrics["ID-M"] = {"unknown_threshold": 0.42}
    write_spec(spec, folder)
    analyzer = Analyzer(models={"identity": str(folder)}, gallery=tmp_path / "g")
    assert analyzer.gallery.threshold == pytest.approx(0.42)
