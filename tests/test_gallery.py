import json
import multiprocessing

import numpy as np
import pytest

from maskface.face import Prediction
from maskface.gallery import DEFAULT_THRESHOLD, INDEX, LOCK, UNKNOWN, Gallery, GalleryError, NameTaken

DIM = 16
MODEL = "test-model"


def unit(rng: np.random.Generator, n: int = 1) -> np.ndarray:
    rows = rng.normal(size=(n, DIM))
    return (rows / np.linalg.norm(rows, axis=1, keepdims=True)).astype(np.float32)


def near(vector: np.ndarray, rng: np.random.Generator, noise: float = 0.05) -> np.ndarray:
    """A unit vector close to ``vector`` (another photo of the same person)."""
    moved = vector + noise * rng.normal(size=vector.shape)
    return moved / np.linalg.norm(moved)


def own_files_only(folder) -> bool:
    names = {p.name for p in folder.iterdir()}
    return all(n in (INDEX, LOCK) or (n.startswith("embeddings-") and n.endswith(".npy")) for n in names)


@pytest.fixture()
def rng() -> np.random.Generator:
    return np.random.default_rng(0)


def test_people_and_embeddings_survive_a_restart(tmp_path, rng):
    gallery = Gallery.open(tmp_path / "g", MODEL, threshold=0.6)
    ada = unit(rng, 3)
    ada_id = gallery.enroll("Ada", ada)
    gallery.enroll("Bob", unit(rng, 2))
    del gallery

    again = Gallery.open(tmp_path / "g", MODEL, create=False)
    assert again.people() == [
        {"id": ada_id, "name": "Ada", "embeddings": 3},
        {"id": again.people()[1]["id"], "name": "Bob", "embeddings": 2},
    ]
    assert again.thresholds == {"bare": 0.6, "masked": 0.6}
    (result,) = again.identify(near(ada[0], rng))
    assert result.label == "Ada" and result.score > 0.9


def test_enrolling_a_known_name_adds_to_that_person(tmp_path, rng):
    gallery = Gallery.open(tmp_path, MODEL)
    first = gallery.enroll("Ada", unit(rng))
    assert gallery.enroll("Ada", unit(rng, 2)) == first
    assert gallery.people() == [{"id": first, "name": "Ada", "embeddings": 3}]


def test_a_known_name_is_added_to_only_when_the_caller_says_it_is_the_same_person(tmp_path, rng):
    gallery = Gallery.open(tmp_path, MODEL)
    first = gallery.enroll("Ada", unit(rng))
    with pytest.raises(NameTaken, match="'Ada' is already enrolled: if these photos show the same person"):
        gallery.enroll("Ada", unit(rng, 2), add_to_existing=False)
    assert gallery.people() == [{"id": first, "name": "Ada", "embeddings": 1}]
    assert gallery.enroll("Bob", unit(rng), add_to_existing=False) != first  # a new name is enrolled as usual


def test_a_gallery_may_hold_at_most_max_people(tmp_path, rng):
    gallery = Gallery.open(tmp_path, MODEL)
    gallery.enroll("Ada", unit(rng), max_people=2)
    gallery.enroll("Bob", unit(rng), max_people=2)
    with pytest.raises(GalleryError, match="holds 2 people, its limit"):
        gallery.enroll("Cy", unit(rng), max_people=2)
    gallery.enroll("Ada", unit(rng), max_people=2)  # more photos of someone enrolled are fine
    assert [p["name"] for p in gallery.people()] == ["Ada", "Bob"]


def test_a_change_made_elsewhere_is_seen_at_the_next_call(tmp_path, rng):
    """Another process (the CLI, a second app) removes someone: this object no longer lists or identifies them."""
    ada = unit(rng)
    serving = Gallery.open(tmp_path, MODEL, threshold=0.8)
    serving.enroll("Ada", ada)
    assert serving.identify(ada)[0].label == "Ada"
    elsewhere = Gallery.open(tmp_path, MODEL)
    elsewhere.remove("Ada")
    assert serving.people() == []
    (result,) = serving.identify(ada)
    assert result.label == UNKNOWN and result.candidates == ()
    elsewhere.enroll("Bob", ada)
    assert serving.identify(ada)[0].label == "Bob"


def test_a_face_below_the_threshold_is_unknown_with_its_candidates(tmp_path, rng):
    gallery = Gallery.open(tmp_path, MODEL, threshold=0.8)
    ada = unit(rng)
    gallery.enroll("Ada", ada)
    stranger = unit(rng)
    (result,) = gallery.identify(stranger)
    expected = float(stranger[0] @ ada[0])
    assert expected < 0.8
    assert result.label == UNKNOWN
    assert result.score == pytest.approx(expected, abs=1e-5)
    assert [name for name, _ in result.candidates] == ["Ada"]


def test_top_k_candidates_are_ordered_best_first(tmp_path, rng):
    gallery = Gallery.open(tmp_path, MODEL, threshold=0.0)
    people = {f"person {i}": unit(rng) for i in range(8)}
    for name, vector in people.items():
        gallery.enroll(name, vector)
    probe = unit(rng)[0]
    (result,) = gallery.identify(probe, top_k=5)
    expected = sorted(people, key=lambda name: -float(people[name][0] @ probe))[:5]
    assert [name for name, _ in result.candidates] == expected
    scores = [score for _, score in result.candidates]
    assert scores == sorted(scores, reverse=True)
    assert (result.label, result.score) == result.candidates[0]


def test_identify_answers_every_row(tmp_path, rng):
    gallery = Gallery.open(tmp_path, MODEL, threshold=0.5)
    ada, bob = unit(rng), unit(rng)
    gallery.enroll("Ada", ada)
    gallery.enroll("Bob", bob)
    results = gallery.identify(np.vstack([near(bob[0], rng), near(ada[0], rng)]), top_k=1)
    assert [r.label for r in results] == ["Bob", "Ada"]
    assert all(len(r.candidates) == 1 for r in results)


def test_an_empty_gallery_knows_nobody(tmp_path, rng):
    gallery = Gallery.open(tmp_path, MODEL)
    assert gallery.people() == []
    assert gallery.identify(unit(rng, 2)) == [Prediction(UNKNOWN, 0.0, threshold=DEFAULT_THRESHOLD)] * 2
    assert gallery.identify(unit(rng))[0].to_dict() == {"label": UNKNOWN, "score": 0.0, "threshold": DEFAULT_THRESHOLD}


def test_candidates_appear_in_the_json_only_when_there_are_some():
    assert Prediction("Ada", 0.91234, (("Ada", 0.91234), ("Bob", 0.5))).to_dict() == {
        "label": "Ada",
        "score": 0.91234,
        "candidates": [{"label": "Ada", "score": 0.91234}, {"label": "Bob", "score": 0.5}],
    }


@pytest.mark.parametrize(
    "name",
    [
        "../../etc/passwd",
        "<script>alert(1)</script>",
        "Zoë Ðặng 王小明 🙂",
        "/abs/path",
        "a\\b",
        ".",
        "C:\\x",
        " padded ",
    ],
)
def test_hostile_but_valid_names_are_stored_verbatim_and_never_touch_the_filesystem(tmp_path, rng, name):
    folder = tmp_path / "g"
    gallery = Gallery.open(folder, MODEL, threshold=0.0)
    person = gallery.enroll(name, unit(rng))
    again = Gallery.open(folder, MODEL)
    assert again.people() == [{"id": person, "name": name, "embeddings": 1}]
    assert again.identify(unit(rng))[0].label == name
    assert json.loads((folder / INDEX).read_text(encoding="utf-8"))["people"][0]["name"] == name
    assert own_files_only(folder)
    assert {p.name for p in tmp_path.iterdir()} == {"g"}


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("", "empty"),
        ("  \t ", "empty"),
        ("nul\x00byte", "control"),
        ("line\nbreak", "control"),
        ("bell\x07", "control"),
        ("x" * 500, "at most 200"),
        ("\udc80", "control"),
        (UNKNOWN, "match nobody"),
    ],
)
def test_invalid_names_are_refused_and_leave_nothing_behind(tmp_path, rng, name, message):
    gallery = Gallery.open(tmp_path, MODEL)
    with pytest.raises(ValueError, match=message):
        gallery.enroll(name, unit(rng))
    assert Gallery.open(tmp_path, MODEL).people() == []
    assert own_files_only(tmp_path)


def test_a_200_character_name_is_accepted(tmp_path, rng):
    gallery = Gallery.open(tmp_path, MODEL)
    gallery.enroll("x" * 200, unit(rng))
    assert gallery.people()[0]["name"] == "x" * 200


def test_remove_by_name_and_by_id(tmp_path, rng):
    gallery = Gallery.open(tmp_path, MODEL)
    gallery.enroll("Ada", unit(rng, 2))
    bob = gallery.enroll("Bob", unit(rng, 3))
    gallery.enroll("Cy", unit(rng))
    assert gallery.remove("Ada") == 2
    assert gallery.remove(bob) == 3
    assert [p["name"] for p in Gallery.open(tmp_path, MODEL).people()] == ["Cy"]
    with pytest.raises(GalleryError, match="nobody with the name or id 'Ada'"):
        gallery.remove("Ada")
    assert gallery.remove("Cy") == 1
    assert Gallery.open(tmp_path, MODEL).people() == []
    assert own_files_only(tmp_path)


def test_another_models_gallery_is_refused(tmp_path, rng):
    Gallery.open(tmp_path, MODEL).enroll("Ada", unit(rng))
    with pytest.raises(GalleryError, match="holds embeddings of model 'test-model', not of 'other-model'"):
        Gallery.open(tmp_path, "other-model")


def test_embeddings_of_another_size_are_refused(tmp_path, rng):
    gallery = Gallery.open(tmp_path, MODEL)
    gallery.enroll("Ada", unit(rng))
    with pytest.raises(GalleryError, match="dimensions"):
        gallery.enroll("Bob", np.ones(DIM + 1))
    with pytest.raises(GalleryError, match="dimensions"):
        gallery.identify(np.ones(DIM - 1))
    with pytest.raises(ValueError, match="all zeros"):
        gallery.enroll("Bob", np.zeros(DIM))


def test_opening_a_missing_gallery_without_create_fails(tmp_path):
    with pytest.raises(FileNotFoundError, match="no gallery"):
        Gallery.open(tmp_path / "missing", MODEL, create=False)
    assert not (tmp_path / "missing").exists()


def _enroll_many(folder: str, prefix: str, count: int) -> None:
    gallery = Gallery.open(folder, MODEL)
    rng = np.random.default_rng(abs(hash(prefix)) % 2**32)
    for i in range(count):
        gallery.enroll(f"{prefix}-{i}", unit(rng))


def test_two_processes_enrolling_at_once_lose_nothing(tmp_path):
    Gallery.open(tmp_path, MODEL)
    context = multiprocessing.get_context("spawn")
    workers = [context.Process(target=_enroll_many, args=(str(tmp_path), prefix, 20)) for prefix in "ab"]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=120)
        assert worker.exitcode == 0
    names = {p["name"] for p in Gallery.open(tmp_path, MODEL).people()}
    assert names == {f"{prefix}-{i}" for prefix in "ab" for i in range(20)}
    assert own_files_only(tmp_path)


def test_bare_and_masked_faces_are_held_to_their_own_threshold(tmp_path, rng):
    gallery = Gallery.open(tmp_path, MODEL, threshold={"bare": 0.95, "masked": 0.5})
    ada, other = unit(rng, 2)
    other = other - (other @ ada) * ada
    gallery.enroll("Ada", ada)
    probe = 0.7 * ada + np.sqrt(1 - 0.7**2) * other / np.linalg.norm(other)  # similarity 0.7 to Ada
    bare, masked = gallery.identify(np.stack([probe, probe]), masked=np.array([False, True]))
    assert bare.score == masked.score == pytest.approx(0.7, abs=1e-5)
    assert (bare.label, bare.threshold) == ("unknown", 0.95)
    assert (masked.label, masked.threshold) == ("Ada", 0.5)
    assert Gallery.open(tmp_path, MODEL).thresholds == {"bare": 0.95, "masked": 0.5}


def test_a_gallery_of_the_first_format_keeps_its_one_threshold_for_every_face(tmp_path, rng):
    gallery = Gallery.open(tmp_path, MODEL, threshold=0.7)
    gallery.enroll("Ada", unit(rng))
    index = json.loads((tmp_path / "gallery.json").read_text())
    index["format"], index["threshold"] = 1, 0.7
    del index["thresholds"]
    (tmp_path / "gallery.json").write_text(json.dumps(index))
    old = Gallery.open(tmp_path, MODEL)
    assert old.thresholds == {"bare": 0.7, "masked": 0.7} and old.people()[0]["name"] == "Ada"


def test_thresholds_must_name_both_kinds_of_face(tmp_path):
    with pytest.raises(GalleryError, match="missing for masked"):
        Gallery.open(tmp_path, MODEL, threshold={"bare": 0.5})
