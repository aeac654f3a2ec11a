import numpy as np
import pytest

from maskface.crops import pad_to_square
from maskface.tasks import TASKS
from training import data as data_lib


def split(n_pos: int, n_neg: int, size: int = 8) -> data_lib.ArraySplit:
    images = np.random.default_rng(0).integers(0, 255, (n_pos + n_neg, size, size, 3), dtype=np.uint8)
    labels = np.array([0] * n_pos + [1] * n_neg, dtype=np.int32)
    return data_lib.ArraySplit(images, labels, ["with_mask", "without_mask"])


def test_imagefolder_is_loaded_in_task_label_order(toy_imagefolder):
    arrays = data_lib.to_arrays(data_lib.load_split(str(toy_imagefolder), "train"), TASKS["mask"], 32)
    assert arrays.images.shape == (36, 32, 32, 3) and arrays.images.dtype == np.uint8
    assert arrays.counts() == {"with_mask": 24, "without_mask": 12}


def test_missing_split_is_a_clear_error(toy_imagefolder):
    with pytest.raises(ValueError, match="no 'validation' split"):
        data_lib.load_split(str(toy_imagefolder), "validation")


def test_stratified_split_keeps_every_class_and_no_overlap():
    data = split(30, 10)
    train, val = data_lib.stratified_split(data, 0.2, seed=1)
    assert val.counts() == {"with_mask": 6, "without_mask": 2}
    assert len(train) + len(val) == 40
    seen = {img.tobytes() for img in train.images}
    assert not any(img.tobytes() in seen for img in val.images)


@pytest.mark.parametrize("method, expected", [("under", 10), ("over", 30), ("smote", 30)])
def test_balancing_evens_out_classes(method, expected):
    balanced = data_lib.balance(split(30, 10), method, seed=0)
    assert balanced.counts() == {"with_mask": expected, "without_mask": expected}
    assert balanced.images.dtype == np.uint8 and balanced.images.shape[1:] == (8, 8, 3)


def test_no_balancing_is_identity():
    data = split(5, 3)
    assert data_lib.balance(data, "none", 0) is data


def test_pipeline_batches_float_images_and_augments_within_range():
    from training.augment import build_augmenter

    ds = data_lib.make_dataset(split(6, 4, size=32), batch_size=4, augmenter=build_augmenter(0), shuffle=True)
    batches = list(ds)
    assert [len(y) for _, y in batches] == [4, 4, 2]
    x = batches[0][0].numpy()
    assert x.dtype == np.float32 and x.min() >= 0 and x.max() <= 255


def test_cached_arrays_are_made_once(tmp_path):
    calls = []

    def make():
        calls.append(1)
        return split(3, 2)

    first = data_lib.cached_arrays(tmp_path, {"k": 1}, make)
    again = data_lib.cached_arrays(tmp_path, {"k": 1}, make)
    other = data_lib.cached_arrays(tmp_path, {"k": 2}, make)
    assert len(calls) == 2 and len(other) == 5
    np.testing.assert_array_equal(first.images, again.images)
    assert again.label_names == ["with_mask", "without_mask"]


def test_lfw_is_split_by_its_split_column_and_cropped_around_faces(shared_data):
    rows = data_lib.load_split(str(shared_data / "lfw"), "test")
    assert len(rows) == 1768 and set(rows["split"]) == {"test"}
    # imagefolder names LFW's one table "train": the split column must still filter it
    assert set(data_lib.load_split(str(shared_data / "lfw"), "train")["split"]) == {"train"}
    few = rows.select(range(6))
    framing = data_lib.DetectFraming(scale=1.2, masked_fraction=1.0, seed=3)
    arrays = data_lib.to_arrays(few, TASKS["gender"], 64, framing)
    bare = data_lib.to_arrays(few, TASKS["gender"], 64, data_lib.DetectFraming(scale=1.2))
    assert arrays.images.shape == (6, 64, 64, 3)
    assert arrays.counts()["female"] + arrays.counts()["male"] == 6
    # masks change the lower half of the crop, not the upper
    lower = np.abs(arrays.images[:, 40:].astype(int) - bare.images[:, 40:]).mean()
    upper = np.abs(arrays.images[:, :20].astype(int) - bare.images[:, :20]).mean()
    assert lower > 10 * max(upper, 0.1)


def label_table(rows: list[tuple]):
    """An in-memory labeling table: (task, label, crop_sha256[, consent]) per row."""
    import datasets

    columns = {"task": [r[0] for r in rows], "label": [r[1] for r in rows], "crop_sha256": [r[2] for r in rows]}
    columns["consent"] = [r[3] if len(r) > 3 else True for r in rows]
    return datasets.Dataset.from_dict(columns)


def test_labels_of_other_tasks_unsure_and_unconsented_rows_are_skipped():
    table = label_table([
        ("mask", "with_mask", "a"), ("gender", "female", "b"), ("gender", "unsure", "c"),
        ("mask", "without_mask", "d", False), ("identity", "Ada", "e"), ("mask", "maybe", "f"),
    ])
    rows, summary = data_lib.select_labels(table, TASKS["mask"])
    assert rows["crop_sha256"] == ["a"] and rows["label"] == ["with_mask"]
    assert summary["skipped"] == {"other_task": 3, "no_consent": 1, "unknown_label": 1}
    rows, summary = data_lib.select_labels(table, TASKS["gender"])
    assert rows["label"] == ["female"] and summary["skipped"]["unsure"] == 1


def test_names_given_in_the_identity_queue_train_the_closed_set_classifier():
    from maskface.tasks import get_task

    table = label_table([("identity", "Ada", "a"), ("identity", "Stranger", "b"), ("mask", "with_mask", "c")])
    rows, summary = data_lib.select_labels(table, get_task("identity-closed", ["Ada", "Grace"]))
    assert list(zip(rows["crop_sha256"], rows["label"])) == [("a", "Ada")]
    assert summary["skipped"] == {"other_task": 1, "unknown_label": 1}


def test_a_crop_labelled_twice_counts_once_with_the_majority_label_and_ties_are_dropped():
    table = label_table([
        ("mask", "with_mask", "a"), ("mask", "without_mask", "a"), ("mask", "with_mask", "a"),
        ("mask", "with_mask", "b"), ("mask", "without_mask", "b"),
        ("mask", "without_mask", "c"), ("mask", "without_mask", "c"),
    ])
    rows, summary = data_lib.select_labels(table, TASKS["mask"])
    assert list(zip(rows["crop_sha256"], rows["label"])) == [("a", "with_mask"), ("c", "without_mask")]
    assert summary == {
        "rows": 7, "used": 2, "labelers_per_face": 2, "aggregation": "majority",
        "skipped": {"conflicting": 2, "duplicate": 3},
    }


def test_held_out_part_is_stratified_and_depends_on_the_crops_not_their_order():
    data = split(10, 4)
    keys = [f"{i:02d}" for i in range(14)]
    train, held = data_lib.held_out_split(data, keys, 0.2)
    assert held.counts() == {"with_mask": 2, "without_mask": 1} and len(train) == 11
    order = np.random.default_rng(3).permutation(14)
    _, again = data_lib.held_out_split(data.subset(order), [keys[i] for i in order], 0.2)
    assert {img.tobytes() for img in again.images} == {img.tobytes() for img in held.images}
    # a class with two crops still gives one to each side; one crop stays in training
    _, few = data_lib.held_out_split(split(2, 1), ["a", "b", "c"], 0.2)
    assert few.counts() == {"with_mask": 1, "without_mask": 0}


def test_labels_from_the_label_store_are_framed_merged_and_held_out(label_store, make_face, tmp_path):
    store, me = label_store
    rng = np.random.default_rng(5)
    for i in range(10):
        label = ("with_mask", "without_mask")[i % 2]
        store.add(make_face(rng, label), "mask", label, labeler_id=me, consent=True)
    store.add(make_face(rng, "without_mask"), "gender", "unsure", labeler_id=me, consent=True)
    base_face = make_face(rng, "with_mask")
    store.add(base_face, "mask", "with_mask", labeler_id=me, consent=True)
    base = data_lib.ArraySplit(
        np.stack([pad_to_square(base_face, 32)]), np.array([0], np.int32), ["with_mask", "without_mask"]
    )

    got = data_lib.labeled_arrays(str(store.folder), TASKS["mask"], 32, 0.2, tmp_path / "cache", base=base)
    assert got.train.images.shape == (8, 32, 32, 3) and got.train.images.dtype == np.uint8
    assert got.held_out.counts() == {"with_mask": 1, "without_mask": 1}
    assert got.summary["skipped"] == {"other_task": 1, "in_base_data": 1}
    assert got.summary["rows"] == 12 and got.summary["used"] == 11
    merged = base + got.train
    assert len(merged) == 9 and merged.counts()["with_mask"] == 5


def test_a_folder_without_label_columns_is_refused(toy_imagefolder):
    with pytest.raises(ValueError, match="not a labeling dataset"):
        data_lib.load_labels(str(toy_imagefolder / "train"))
