"""The labels dataset of shared photos (data/labels/gender-real): checked rows, merges, the card, datasets."""

from __future__ import annotations

import json

import datasets
import pytest

from gender_toys import write_toy_gender_real
from maskface.labelset import LabelSet, LabelSetError, check_row, read_rows, rows_from_store, stats


@pytest.fixture()
def rows(tmp_path):
    return write_toy_gender_real(tmp_path / "data", per_part=6)


def test_a_saved_dataset_loads_with_datasets_as_train_and_test_splits(toy_gender_real, tmp_path):
    folder, _ = toy_gender_real
    loaded = datasets.load_dataset(str(folder), cache_dir=str(tmp_path / "hf"))
    assert set(loaded) == {"train", "test"}
    assert len(loaded["train"]) == 24 and len(loaded["test"]) == 24
    assert {"file", "box", "label", "suggestion", "labeler", "time"} <= set(loaded["test"].column_names)
    assert not list(folder.glob("**/*.jpg")), "no image is copied into the dataset"


def test_the_card_counts_classes_unsure_and_overturned_suggestions(rows, tmp_path):
    labels = LabelSet(tmp_path / "ds")
    labels.merge(rows)
    labels.save()
    card = (tmp_path / "ds" / "README.md").read_text()
    s = stats(rows)
    assert s["unsure"] == 2 and s["counts"]["train"]["with_mask"] == {"female": 3, "male": 2, "unsure": 1}
    judged = [r for r in rows if r["label"] != "unsure"]
    assert s["overturned_share"] == round(sum(r["label"] != r["suggestion"] for r in judged) / len(judged), 4)
    assert f"Unsure: **{s['unsure']}**" in card and f"**{s['suggestions_overturned']}** of the {len(judged)}" in card
    assert "| train | 6 | with_mask | 3 | 2 | 1 |" in card


def test_a_newer_label_of_the_same_face_replaces_the_older_one(rows, tmp_path):
    labels = LabelSet(tmp_path / "ds")
    assert labels.merge(rows).added == len(rows)
    newer = dict(rows[0], label="male" if rows[0]["label"] != "male" else "female", time="2026-01-01T00:00:00Z")
    older = dict(rows[1], label="unsure", time="2020-01-01T00:00:00Z")
    report = labels.merge([newer, older, rows[2]])
    assert (report.replaced, report.older, report.unchanged, report.added) == (1, 1, 1, 0)
    labels.save()
    again = LabelSet.load(tmp_path / "ds")
    assert len(again.rows) == len(rows) and newer in again.rows and rows[1] in again.rows


@pytest.mark.parametrize(
    "change, message",
    [
        ({"label": "woman"}, "label 'woman'"),
        ({"file": "../secret.jpg"}, "not a photo of mask/"),
        ({"split": "test"}, "do not match"),
        ({"box": [0, 0, 0, 10]}, "w, h > 0"),
        ({"time": "yesterday"}, "ISO 8601"),
        ({"labeler": " "}, "labeler"),
        ({"suggestion_score": 1.5}, "probability"),
    ],
)
def test_bad_rows_are_refused_with_the_reason(rows, change, message):
    with pytest.raises(LabelSetError, match=message):
        check_row(dict(rows[0], **change))


def test_a_row_naming_a_missing_photo_is_refused_when_the_root_is_given(rows, tmp_path):
    check_row(rows[0], tmp_path / "data")
    with pytest.raises(LabelSetError, match="no photo"):
        check_row(dict(rows[0], file="mask/train/with_mask/gone.jpg"), tmp_path / "data")


def test_reading_a_growing_file_skips_its_unfinished_last_line_and_reports_bad_ones(rows, tmp_path):
    path = tmp_path / "labels.jsonl"
    text = json.dumps(rows[0]) + "\nnot json\n" + json.dumps(dict(rows[1], label="x")) + "\n" + json.dumps(rows[2])[:40]
    path.write_text(text)
    found, errors = read_rows(path)
    assert found == [check_row(rows[0])]
    assert errors == ["line 2: not JSON", "line 3: label 'x' is not one of female, male, unsure"]


def test_the_apps_labels_of_shared_photos_export_as_rows():
    records = [
        {"task": "gender", "label": "female", "source_file": "mask/test/with_mask/a.jpg", "box": [1, 2, 30, 40],
         "predicted_label": "male", "predicted_score": 0.7, "created_at": "2025-05-01T10:00:00.000Z",
         "labeler_id": "0123456789abcdef", "labeler_name": None},
        {"task": "gender", "label": "male", "source_file": None, "box": None, "predicted_label": None,
         "predicted_score": None, "created_at": "2025-05-01T10:00:01.000Z"},
        {"task": "mask", "label": "with_mask", "created_at": "2025-05-01T10:00:02.000Z"},
    ]
    found, other = rows_from_store(records, "maskface team")
    assert other == 1 and len(found) == 1
    assert found[0] | {} == check_row(found[0])
    assert (found[0]["split"], found[0]["mask_folder"], found[0]["suggestion"]) == ("test", "with_mask", "male")
    assert found[0]["labeler"] == "maskface team"
    (kept,), _ = rows_from_store(records)  # without a name given: the label's own labeler
    assert (kept["labeler"], kept["time"], kept["suggestion_score"]) == ("0123456789abcdef", "2025-05-01T10:00:00.000Z", 0.7)
