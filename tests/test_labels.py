"""The label store's contract: validated records, a folder ``datasets`` loads, undo, deletion, repair after a crash."""

from __future__ import annotations

import os

import datasets
import numpy as np
import pytest
from PIL import Image

from maskface.analyzer import Analyzer
from maskface.face import Prediction
from maskface.labels import (
    CROPS,
    LABEL_CROP,
    MAX_CROP_SIDE,
    METADATA,
    LabelError,
    LabelStore,
    build_queue,
    new_labeler_id,
)


def crop(seed: int = 0, size: int = 48) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (size, size, 3), dtype=np.uint8)


def folder_files(folder) -> set[str]:
    """Every file under ``folder`` except the lock, as relative paths."""
    return {
        os.path.relpath(os.path.join(root, name), folder)
        for root, _, names in os.walk(folder)
        for name in names
        if name != ".lock"
    }


@pytest.fixture()
def store(tmp_path) -> LabelStore:
    return LabelStore(tmp_path / "labels")


@pytest.fixture()
def me() -> str:
    return new_labeler_id()


def test_a_label_is_a_crop_and_a_line_that_datasets_loads(store, me, tmp_path):
    pixels = crop(1)
    first = store.add(pixels, "mask", "with_mask", labeler_id=me, consent=True, labeler_name=" Ada ",
                      prediction=Prediction("without_mask", 0.55))
    second = store.add(crop(2), "gender", "unsure", labeler_id=me, consent=True)
    third = store.add(crop(3), "identity", "Grace Hopper", labeler_id=me, consent=True)

    records = store.records()
    assert [r["id"] for r in records] == [first, second, third]
    assert records[0] | {"created_at": None} == {
        "file_name": f"{CROPS}/{first}.png",
        "id": first,
        "task": "mask",
        "label": "with_mask",
        "usable": True,
        "labeler_id": me,
        "labeler_name": "Ada",
        "consent": True,
        "created_at": None,
        "predicted_label": "without_mask",
        "predicted_score": 0.55,
        "crop_sha256": records[0]["crop_sha256"],
    }
    assert records[0]["created_at"].endswith("Z")
    assert records[1]["usable"] is False and records[1]["labeler_name"] is None
    assert records[1]["predicted_label"] is None and records[1]["predicted_score"] is None
    assert folder_files(store.folder) == {METADATA, *(r["file_name"] for r in records)}
    np.testing.assert_array_equal(np.asarray(Image.open(store.folder / records[0]["file_name"])), pixels)

    table = datasets.load_dataset("imagefolder", data_dir=str(store.folder), cache_dir=str(tmp_path / "cache"))["train"]
    assert table["id"] == [first, second, third]
    assert table["label"] == ["with_mask", "unsure", "Grace Hopper"]
    assert table["usable"] == [True, False, True]
    np.testing.assert_array_equal(np.asarray(table[0]["image"]), pixels)


def test_same_pixels_give_the_same_hash_for_de_duplication(store, me):
    store.add(crop(5), "mask", "with_mask", labeler_id=me, consent=True)
    store.add(Image.fromarray(crop(5)), "mask", "without_mask", labeler_id=me, consent=True)
    store.add(crop(6), "mask", "with_mask", labeler_id=me, consent=True)
    hashes = [r["crop_sha256"] for r in store.records()]
    assert hashes[0] == hashes[1] != hashes[2]


@pytest.mark.parametrize("consent", [False, None, "yes", 1])
def test_no_consent_no_label(store, me, consent):
    with pytest.raises(LabelError, match="consent"):
        store.add(crop(), "mask", "with_mask", labeler_id=me, consent=consent)
    assert store.records() == [] and folder_files(store.folder) == set()


@pytest.mark.parametrize(
    ("task", "label", "labeler_id", "name", "message"),
    [
        ("age", "old", "a" * 32, None, "unknown task"),
        ("mask", "masked", "a" * 32, None, "not a mask label"),
        ("gender", "unsure ", "a" * 32, None, "not a gender label"),
        ("identity", "", "a" * 32, None, "empty"),
        ("identity", "unknown", "a" * 32, None, "match nobody"),
        ("identity", "a\x00b", "a" * 32, None, "control"),
        ("mask", "with_mask", "short", None, "labeler id"),
        ("mask", "with_mask", "../../etc/passwd", None, "labeler id"),
        ("mask", "with_mask", "a" * 32, "x" * 201, "at most 200"),
        ("mask", "with_mask", "a" * 32, "tab\there", "control"),
        ("mask", "with_mask", "a" * 32, 42, "text"),
    ],
)
def test_invalid_labels_are_refused_and_leave_nothing(store, task, label, labeler_id, name, message):
    with pytest.raises(LabelError, match=message):
        store.add(crop(), task, label, labeler_id=labeler_id, consent=True, labeler_name=name)
    assert folder_files(store.folder) == set()


def test_a_crop_that_is_not_an_image_is_refused(store, me):
    with pytest.raises(LabelError, match="crop is not usable"):
        store.add(b"not an image", "mask", "with_mask", labeler_id=me, consent=True)
    assert folder_files(store.folder) == set()


def test_large_crops_are_downscaled(store, me):
    store.add(crop(size=1000), "mask", "with_mask", labeler_id=me, consent=True)
    (record,) = store.records()
    assert Image.open(store.folder / record["file_name"]).size == (MAX_CROP_SIDE, MAX_CROP_SIDE)


def test_undo_removes_only_your_own_label(store, me):
    other = new_labeler_id()
    mine = store.add(crop(1), "mask", "with_mask", labeler_id=me, consent=True)
    theirs = store.add(crop(2), "mask", "with_mask", labeler_id=other, consent=True)
    with pytest.raises(LabelError, match="no label"):
        store.undo(theirs, me)
    assert store.undo(mine, me)["id"] == mine
    with pytest.raises(LabelError, match="no label"):
        store.undo(mine, me)
    assert [r["id"] for r in store.records()] == [theirs]
    assert (store.count(me), store.count(other)) == (0, 1)
    assert folder_files(store.folder) == {METADATA, f"{CROPS}/{theirs}.png"}


def test_delete_contributions_by_id_and_by_name(store, me):
    other = new_labeler_id()
    for i in range(3):
        store.add(crop(i), "mask", "with_mask", labeler_id=me, consent=True, labeler_name="Ada")
    store.add(crop(9), "mask", "with_mask", labeler_id=other, consent=True, labeler_name="Ada")
    kept = store.add(crop(10), "gender", "male", labeler_id=other, consent=True, labeler_name="Bob")
    with pytest.raises(LabelError, match="say whose"):
        store.delete_contributions()
    assert store.delete_contributions(labeler_id=me) == 3
    assert store.delete_contributions(labeler_name="Ada") == 1
    assert store.delete_contributions(labeler_name="Nobody") == 0
    assert [r["id"] for r in store.records()] == [kept]
    assert folder_files(store.folder) == {METADATA, f"{CROPS}/{kept}.png"}


def test_opening_repairs_what_a_crash_leaves(tmp_path, me):
    store = LabelStore(tmp_path)
    kept = store.add(crop(1), "mask", "with_mask", labeler_id=me, consent=True)
    with open(tmp_path / METADATA, "ab") as file:
        file.write(b'{"file_name": "crops/half')  # a writer killed mid-line
    (tmp_path / CROPS / "0123abcd.png").write_bytes(b"crop whose line was never written")
    (tmp_path / CROPS / ".tmp-0123").write_bytes(b"half a png")
    (tmp_path / ".tmp-4567").write_bytes(b"half a metadata rewrite")

    reopened = LabelStore(tmp_path)
    assert [r["id"] for r in reopened.records()] == [kept]
    assert folder_files(tmp_path) == {METADATA, f"{CROPS}/{kept}.png"}
    assert (tmp_path / METADATA).read_bytes().endswith(b"\n")


def test_a_partial_line_is_cut_before_the_next_append(store, me):
    """Another process crashed mid-line while this one stays open: the next label must not be glued to it."""
    first = store.add(crop(1), "mask", "with_mask", labeler_id=me, consent=True)
    with open(store.folder / METADATA, "ab") as file:
        file.write(b'{"id": "half')
    second = store.add(crop(2), "mask", "with_mask", labeler_id=me, consent=True)
    assert [r["id"] for r in store.records()] == [first, second]


# --- the queue of faces to label -------------------------------------------


@pytest.fixture(scope="module")
def mask_analyzer(tiny_mask_model) -> Analyzer:
    return Analyzer(models={"mask": str(tiny_mask_model)})


def test_queue_is_least_confident_first_and_reports_unreadable_inputs(mask_analyzer, tmp_path):
    images = [crop(seed, 40) for seed in range(6)]
    (tmp_path / "bad.jpg").write_text("not a photo")
    queue = build_queue([*images, tmp_path / "bad.jpg"], mask_analyzer, "mask", assume_face=True)
    scores = [item.predictions["mask"].score for item in queue.items]
    assert len(queue.items) == 6 and scores == sorted(scores)
    assert all(item.crop.shape == (LABEL_CROP.size, LABEL_CROP.size, 3) for item in queue.items)
    assert {item.source for item in queue.items} == {f"image {n}" for n in range(1, 7)}
    assert len(queue.errors) == 1 and "bad.jpg" in queue.errors[0]


def test_queue_for_a_task_without_a_model_keeps_input_order(mask_analyzer):
    queue = build_queue([crop(1, 40), crop(2, 40)], mask_analyzer, "gender", assume_face=True)
    assert [item.source for item in queue.items] == ["image 1", "image 2"]
    with pytest.raises(LabelError, match="unknown task"):
        build_queue([], mask_analyzer, "age")


def test_merge_adds_only_the_records_this_store_lacks(tmp_path, me):
    ours, theirs = LabelStore(tmp_path / "ours"), LabelStore(tmp_path / "theirs")
    shared = ours.add(crop(1), "mask", "with_mask", labeler_id=me, consent=True)
    for source in (tmp_path / "ours" / CROPS / f"{shared}.png", tmp_path / "ours" / METADATA):
        (tmp_path / "theirs" / source.relative_to(tmp_path / "ours")).write_bytes(source.read_bytes())
    new = theirs.add(crop(2), "gender", "male", labeler_id=me, consent=True, labeler_name="Bob")
    skipped = theirs.add(crop(3), "gender", "female", labeler_id=me, consent=True, labeler_name="Ada")

    assert ours.merge(theirs.folder, skip=lambda record: record["labeler_name"] == "Ada") == 1
    assert [r["id"] for r in ours.records()] == [shared, new]
    assert folder_files(ours.folder) == {METADATA, f"{CROPS}/{shared}.png", f"{CROPS}/{new}.png"}
    assert ours.merge(theirs.folder) == 1 and ours.merge(theirs.folder) == 0
    assert [r["id"] for r in ours.records()] == [shared, new, skipped]
