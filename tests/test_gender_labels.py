"""The gender labels of real masked faces (data/labels/gender-real): they load with `datasets` and are complete."""

from __future__ import annotations

import csv
from collections import Counter
from pathlib import Path

import pytest

LABELS = Path(__file__).resolve().parents[1] / "data" / "labels" / "gender-real"


@pytest.fixture(scope="module")
def rows(tmp_path_factory):
    import datasets

    loaded = datasets.load_dataset(str(LABELS), cache_dir=str(tmp_path_factory.mktemp("hf-cache")))
    return {split: list(loaded[split]) for split in ("train", "test")}


def test_the_labels_load_with_datasets_and_name_faces_not_images(rows):
    for split, table in rows.items():
        assert table and all(row["split"] == split for row in table)
        assert {row["label"] for row in table} <= {"female", "male", "unsure"}
        assert all(row["labeler"] == "maskface team" and len(row["box"]) == 4 for row in table)
        assert all(row["file"].startswith(f"mask/{split}/") and row["file"].endswith(".jpg") for row in table)
    assert len(rows["train"]) >= 2000


def test_the_card_counts_match_the_rows(rows):
    card = (LABELS / "README.md").read_text()
    every = rows["train"] + rows["test"]
    unsure = sum(row["label"] == "unsure" for row in every)
    assert f"**{unsure}** of {len(every)} faces" in card
    for split, table in rows.items():
        for folder in ("with_mask", "without_mask"):
            count = Counter(row["label"] for row in table if row["mask_folder"] == folder)
            line = f"| {split} | {sum(count.values())} | {folder} | {count['female']} | {count['male']} | {count['unsure']} |"
            assert line in card


def test_every_photo_of_the_mask_test_split_is_labelled(rows, shared_data):
    with open(shared_data / "mask" / "manifest.csv", newline="") as f:
        photos = {"mask/" + row["file_name"] for row in csv.DictReader(f) if row["split"] == "test"}
    assert photos == {row["file"] for row in rows["test"]}
