import numpy as np
import pytest

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
