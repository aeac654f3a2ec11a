import numpy as np
import pytest

from maskface.analyzer import Analyzer, ImageResult
from maskface.detect import Detection
from maskface.enrolment import enroll
from maskface.gallery import Gallery
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
    result = Analyzer(models={"mask": str(tiny_mask_model)}, detector=FixedDetector([])).analyze(face_photo)
    assert result.faces == [] and not result and result.to_dict() == {"image": "<image>", "faces": [], "error": None}


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
    assert results[0].image is None and results[0].source == str(bad)
    with pytest.raises(ValueError, match="could not be read"):
        results[0].plot()
    assert results[1].error is None and len(results[1].faces) == 2


def test_model_for_the_wrong_task_is_refused(tiny_mask_model):
    stored = load_model(tiny_mask_model)
    with pytest.raises(ValueError, match="not a gender model"):
        Analyzer(models={"mask": stored, "gender": stored})


def test_a_result_keeps_its_decoded_image_and_draws_itself(analyzer, face_photo, tmp_path):
    from PIL import Image

    path = tmp_path / "face.png"
    Image.fromarray(face_photo).save(path)
    result = analyzer.analyze(path)
    assert isinstance(result, ImageResult) and result.source == str(path) and len(result) == 2
    np.testing.assert_array_equal(result.image, face_photo)
    drawn = np.asarray(result.plot("mask"))
    height, width = face_photo.shape[:2]
    scale = drawn.shape[1] // width  # small photos are enlarged so that labels stay legible
    assert drawn.shape[1] == scale * width and drawn.shape[0] > scale * height  # a legend below
    plain = np.asarray(Image.fromarray(face_photo).resize((scale * width, scale * height), Image.Resampling.LANCZOS))
    assert (drawn[: scale * height] != plain).any()  # boxes drawn on a copy
    np.testing.assert_array_equal(result.image, face_photo)
    saved = result.save(tmp_path / "annotated.png")
    np.testing.assert_array_equal(np.asarray(Image.open(saved)), drawn)


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
def identifying(tiny_mask_model, tiny_identity_model):
    return Analyzer(
        models={"mask": str(tiny_mask_model), "identity": str(tiny_identity_model)},
        detector=FixedDetector([(8, 8, 48, 48)]),
    )


@pytest.fixture()
def gallery(identifying, tmp_path):
    return Gallery.for_model(tmp_path / "gallery", identifying.embedder)


def test_an_identity_model_gives_every_face_its_embedding(identifying):
    (face,) = identifying.analyze(photo(1))
    assert face.embedding.shape == (16,) and np.linalg.norm(face.embedding) == pytest.approx(1.0, abs=1e-5)
    assert "identity" not in face.results and "embedding" not in face.to_dict()


def test_enrolled_people_are_named_and_strangers_are_unknown(identifying, gallery):
    gallery.thresholds = {"bare": 0.9, "masked": 0.9}
    enroll(identifying, gallery, "Ada", [photo(1), photo(2)])
    enroll(identifying, gallery, "Grace", [photo(3)])
    (face,) = identifying.analyze(photo(1), gallery=gallery)
    assert face["identity"].label == "Ada" and face["identity"].score > 0.99
    assert [name for name, _ in face["identity"].candidates] == ["Ada", "Grace"]
    assert face["mask"].label in ("with_mask", "without_mask")
    (stranger,) = identifying.analyze(photo(99), gallery=gallery)
    assert stranger["identity"].label == "unknown" and stranger["identity"].candidates


def test_enrolment_adds_simulated_mask_copies_of_each_photo(identifying, gallery):
    enroll(identifying, gallery, "Ada", [photo(1), photo(2)], masked_copies=2)
    assert gallery.people()[0]["embeddings"] == 2 * 3


@pytest.mark.parametrize(("boxes", "message"), [([], "shows no face"), ([(0, 0, 20, 20), (30, 30, 20, 20)], "shows 2 faces")])
def test_an_enrolment_photo_must_show_exactly_one_face(identifying, gallery, boxes, message):
    enroll(identifying, gallery, "Ada", [photo(1)])
    identifying._detector = FixedDetector(boxes)
    with pytest.raises(ValueError, match=f"photo 1 {message}"):
        enroll(identifying, gallery, "Grace", [photo(2), photo(3)])
    assert [p["name"] for p in gallery.people()] == ["Ada"]


def test_the_gallery_survives_a_new_analyzer(identifying, gallery, tiny_identity_model):
    enroll(identifying, gallery, "Ada", [photo(1)])
    again = Analyzer(models={"identity": str(tiny_identity_model)})
    assert [p["name"] for p in Gallery.for_model(gallery.path, again.embedder).people()] == ["Ada"]


def test_without_an_identity_model_faces_have_no_embedding_and_nothing_is_identified(analyzer, gallery, face_photo):
    assert analyzer.analyze(face_photo)[0].embedding is None
    with pytest.raises(ValueError, match="identity model"):
        analyzer.analyze(face_photo, gallery=gallery)
    with pytest.raises(ValueError, match="identity model"):
        enroll(analyzer, gallery, "Ada", [face_photo])


def test_a_gallery_of_another_model_is_refused(identifying, tmp_path):
    foreign = Gallery.open(tmp_path / "foreign", model_id="another-model")
    with pytest.raises(ValueError, match="another-model"):
        identifying.analyze(photo(1), gallery=foreign)


def test_a_classifier_cannot_serve_as_the_identity_model(tiny_mask_model):
    with pytest.raises(ValueError, match="not an identity model"):
        Analyzer(models={"identity": str(tiny_mask_model)})


def test_a_new_gallery_takes_the_models_calibrated_threshold(tiny_identity_model, tmp_path):
    import shutil

    from maskface.store import read_spec, write_spec

    folder = tmp_path / "calibrated"
    shutil.copytree(tiny_identity_model, folder)
    spec = read_spec(folder)
    spec.metrics["ID-M"] = {"unknown_threshold bare": 0.42, "unknown_threshold masked": 0.37}
    write_spec(spec, folder)
    analyzer = Analyzer(models={"identity": str(folder)})
    assert Gallery.for_model(tmp_path / "g", analyzer.embedder).thresholds == pytest.approx({"bare": 0.42, "masked": 0.37})
