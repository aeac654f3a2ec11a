from pathlib import Path

import numpy as np
import pytest

from maskface.masksim import STYLES
from maskface.matching import idm_figures, person_scores, tar_at_far
from training.protocols import idm_split


def test_perfectly_separated_scores_accept_every_genuine_pair():
    rng = np.random.default_rng(0)
    scores = rng.uniform(0.0, 0.5, (300, 20))
    truth = rng.integers(0, 20, 300)
    scores[np.arange(300), truth] = rng.uniform(0.6, 1.0, 300)
    figures = idm_figures(scores, truth)
    assert figures["rank1"] == 1.0
    assert figures["tar_at_far_1.0%"] == 1.0 and figures["tar_at_far_0.1%"] == 1.0
    assert figures["genuine_pairs"] == 300 and figures["impostor_pairs"] == 300 * 19
    assert 0.45 < figures["threshold_at_far_1.0%"] <= 0.5


def test_random_scores_accept_genuine_pairs_at_the_false_accept_rate():
    rng = np.random.default_rng(1)
    scores = rng.uniform(-1, 1, (4000, 50))
    truth = rng.integers(0, 50, 4000)
    figures = idm_figures(scores, truth)
    assert figures["rank1"] == pytest.approx(1 / 50, abs=0.01)
    assert figures["tar_at_far_1.0%"] == pytest.approx(0.01, abs=0.005)
    assert figures["tar_at_far_0.1%"] == pytest.approx(0.001, abs=0.002)


def test_the_threshold_never_accepts_more_impostors_than_the_rate_even_with_ties():
    tar, threshold = tar_at_far(np.full(10, 0.5), np.full(1000, 0.5), 0.01)
    assert threshold > 0.5 and tar == 0.0
    impostor = np.arange(1000) / 1000
    tar, threshold = tar_at_far(np.array([0.99, 0.989, 0.5]), impostor, 0.01)
    assert np.mean(impostor >= threshold) <= 0.01 and np.mean(impostor >= threshold - 1e-3) > 0.01
    assert tar == pytest.approx(1 / 3)


def test_person_scores_rules():
    gallery = np.array([[1.0, 0.0], [0.0, 1.0], [0.6, 0.8]], dtype=np.float32)
    owners = np.array([0, 0, 1])
    probe = np.array([[1.0, 0.0]], dtype=np.float32)
    np.testing.assert_allclose(person_scores(probe, gallery, owners, 2, "max"), [[1.0, 0.6]])
    np.testing.assert_allclose(person_scores(probe, gallery, owners, 2, "top2"), [[0.5, 0.6]])
    np.testing.assert_allclose(person_scores(probe, gallery, owners, 2, "centroid"), [[np.sqrt(0.5), 0.6]], rtol=1e-6)
    with pytest.raises(ValueError, match="unknown scoring rule"):
        person_scores(probe, gallery, owners, 2, "mean")


def test_idm_split_follows_the_data_readme(shared_data):
    gallery, probes = idm_split(shared_data / "lfw")
    people = {item.person for item in gallery}
    assert len(people) == 84 and {item.person for item in probes} == people
    assert len(gallery) == 168 and len(probes) == 639
    assert not {item.file_name for item in gallery} & {item.file_name for item in probes}
    first = [item.file_name for item in gallery if item.person == "Allyson_Felix"]
    assert first == ["images/Allyson_Felix/Allyson_Felix_0001.jpg", "images/Allyson_Felix/Allyson_Felix_0002.jpg"]
    assert [p.seed for p in probes] == list(range(639))
    assert [p.style for p in probes[: len(STYLES)]] == list(STYLES)


def closed_set_rows(tmp_path, counts: dict[str, int]):
    """A dataset shaped like LFW's rows: an image path and an identity per row, files in shuffled order."""
    import datasets
    from PIL import Image

    rows = {"image": [], "identity": []}
    blank = Image.new("RGB", (4, 4))
    for person, n in counts.items():
        for k in range(n):
            path = tmp_path / f"{person}_{k:04d}.jpg"
            blank.save(path)
            rows["image"].append(str(path))
            rows["identity"].append(person)
    order = np.random.default_rng(0).permutation(len(rows["identity"]))
    rows = {column: [values[i] for i in order] for column, values in rows.items()}
    return datasets.Dataset.from_dict(rows).cast_column("image", datasets.Image())


def test_closed_set_people_have_thirty_images_or_more(tmp_path):
    from training.protocols import closed_set_people

    rows = closed_set_rows(tmp_path, {"Ada": 30, "Bob": 29, "Cy": 41})
    assert closed_set_people(rows) == ["Ada", "Cy"]


def names(part) -> list[str]:
    import datasets

    return sorted(Path(item["path"]).stem for item in part.cast_column("image", datasets.Image(decode=False))["image"])


def test_each_persons_last_fifth_by_file_name_is_the_test_part(tmp_path):
    from training.protocols import closed_set_part

    rows = closed_set_rows(tmp_path, {"Ada": 30, "Cy": 41, "Bob": 3})
    test = closed_set_part(rows, ["Ada", "Cy"], "test")
    train = closed_set_part(rows, ["Ada", "Cy"], "train")
    assert names(test) == [f"Ada_{k:04d}" for k in range(24, 30)] + [f"Cy_{k:04d}" for k in range(32, 41)]
    assert len(train) == 24 + 32 and not set(names(train)) & set(names(test))
    assert "Bob" not in train["identity"]


def test_the_closed_set_task_takes_its_people_as_labels():
    from maskface.tasks import get_task

    task = get_task("identity-closed", ["Ada", "Cy"])
    assert task.labels == ("Ada", "Cy") and task.column == "identity" and task.protocol == "ID-CLOSED"
    with pytest.raises(ValueError, match="needs its people"):
        get_task("identity-closed")


@pytest.fixture()
def tiny_lfw(shared_data, tmp_path):
    """Three ID-M people with four photos each (real LFW test photos), as an LFW folder of its own."""
    import csv
    import shutil

    with open(shared_data / "lfw" / "metadata.csv", newline="") as f:
        rows = [row for row in csv.DictReader(f) if row["split"] == "test"]
    by_person: dict[str, list[dict]] = {}
    for row in rows:
        by_person.setdefault(row["identity"], []).append(row)
    chosen = [person for person, photos in sorted(by_person.items()) if len(photos) == 4][:3]
    kept = [row for person in chosen for row in by_person[person]]
    for row in kept:
        (tmp_path / row["file_name"]).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(shared_data / "lfw" / row["file_name"], tmp_path / row["file_name"])
    with open(tmp_path / "metadata.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(kept[0]))
        writer.writeheader()
        writer.writerows(kept)
    return tmp_path


def test_idm_embeds_each_face_as_its_kind_and_reports_one_photo_enrolment_and_thresholds_per_kind(tiny_lfw):
    from maskface.crops import CropSpec
    from training.protocols import evaluate_idm

    calls = []

    def embed(crops, masked):
        calls.append(np.asarray(masked).tolist())
        means = np.array([crop.reshape(-1, 3).mean(axis=0) for crop in crops])  # a stand-in embedding
        return means - 100 + np.asarray(masked)[:, None]

    report = evaluate_idm(embed, CropSpec(32), tiny_lfw, masked_copies=2)
    gallery, masked_probes, bare_probes = calls
    assert gallery == [False, True, True] * 6  # 3 people x 2 photos, each bare then 2 simulated masks
    assert masked_probes == [True] * 6 and bare_probes == [False] * 6
    assert report["one_photo"]["protocol"] == "ID-M-1" and report["one_photo"]["gallery_images"] == 3
    for figures in (report, report["one_photo"]):
        assert figures["masked"]["probes"] == figures["unmasked"]["probes"] == 6
    assert set(report["unknown_threshold"]) == {"bare", "masked"}
    assert report["routed_masked"] == {"masked": 6, "unmasked": 0}

    calls.clear()
    evaluate_idm(embed, CropSpec(32), tiny_lfw, masked_copies=0, is_masked=lambda image, face: True)
    assert calls == [[True] * 6, [True] * 6, [True] * 6]  # the mask model's word, not the condition's
