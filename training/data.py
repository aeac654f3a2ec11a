"""From an imagefolder directory or a Hub dataset to arrays and ``tf.data`` pipelines.

Both sources go through ``datasets.load_dataset`` so a local folder and a Hub
dataset id behave the same. Images are framed exactly as the analyzer frames
them, so training and inference see the same crops: face photos are padded to
a square (an ``--assume-face`` input), other photos are cropped around their
detected face (:class:`DetectFraming`).
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import datasets
import numpy as np
import tensorflow as tf
from tqdm.auto import tqdm

from maskface.crops import crop_square, pad_to_square
from maskface.detect import make_detector
from maskface.image import load_image
from maskface.masksim import simulate_mask
from maskface.tasks import Task

from .protocols import locate_face

log = logging.getLogger(__name__)

BALANCE_METHODS = ("none", "under", "over", "smote")


@dataclass
class ArraySplit:
    """Images (N, S, S, 3) uint8 and integer labels indexing ``label_names``."""

    images: np.ndarray
    labels: np.ndarray
    label_names: list[str]

    def __len__(self) -> int:
        return len(self.labels)

    def subset(self, index: np.ndarray) -> ArraySplit:
        return ArraySplit(self.images[index], self.labels[index], self.label_names)

    def counts(self) -> dict[str, int]:
        return {name: int((self.labels == i).sum()) for i, name in enumerate(self.label_names)}


@dataclass(frozen=True)
class DetectFraming:
    """Crop each photo around its central detected face, as the analyzer frames detections.

    For photos that are not face crops (LFW's 150x150 press photos). A
    ``masked_fraction`` of the images, chosen with ``seed``, first get a
    simulated mask, since masked photos with gender or identity labels are rare.
    """

    scale: float
    masked_fraction: float = 0.0
    seed: int = 0
    detector: str = "auto"


def load_split(data: str, split: str) -> datasets.Dataset:
    """Load one split of an imagefolder directory or a Hub dataset id.

    Rows also carrying a ``split`` column (LFW's ``metadata.csv``, which
    imagefolder loads as one ``train`` table) are filtered by it, so test
    people never leak into training.
    """
    if Path(data).is_dir():
        dsd = datasets.load_dataset("imagefolder", data_dir=str(data))
    else:
        dsd = datasets.load_dataset(data)
    tables = list(dsd.values())
    table = dsd[split] if split in dsd else tables[0] if len(tables) == 1 else None
    if table is not None and "split" in table.column_names:
        table = table.filter(lambda value: value == split, input_columns="split")
    if table is None or not len(table):
        raise ValueError(f"{data} has no {split!r} split (it has: {', '.join(dsd)})")
    return table


def row_label(ds: datasets.Dataset, task: Task) -> Callable[[dict], str]:
    """A function giving a row's label as text, from the column named after the task
    (``gender``) or else ``label``, decoding imagefolder's class indices."""
    column = task.name if task.name in ds.column_names else "label"
    feature = ds.features[column]
    if isinstance(feature, datasets.ClassLabel):
        return lambda row: feature.names[row[column]]
    return lambda row: row[column]


def to_arrays(ds: datasets.Dataset, task: Task, size: int, framing: DetectFraming | None = None) -> ArraySplit:
    """Decode, frame and resize every image; map the dataset's labels onto the task's label order.

    Without ``framing`` an image is taken as a face crop and padded to a square
    (what ``--assume-face`` does); rows with other labels (e.g. ``unknown``) are left out.
    """
    label_of = row_label(ds, task)
    detector = make_detector(framing.detector) if framing else None
    rng = np.random.default_rng(framing.seed if framing else 0)
    images, labels = [], []
    for i, row in enumerate(tqdm(ds, desc=f"loading {len(ds)} images", unit="img", leave=False)):
        label = label_of(row)
        if label not in task.labels:
            continue
        pixels = load_image(row["image"])
        if framing is None:
            images.append(pad_to_square(pixels, size))
        else:
            face = locate_face(pixels, detector)
            if rng.random() < framing.masked_fraction:
                pixels = simulate_mask(pixels, face.keypoints, face.box, rng=framing.seed + i)
            images.append(crop_square(pixels, face.box, size, framing.scale))
        labels.append(task.labels.index(label))
    if not labels:
        raise ValueError(f"no rows labelled {' or '.join(task.labels)} in the data")
    return ArraySplit(np.stack(images), np.asarray(labels, dtype=np.int32), list(task.labels))


def cached_arrays(cache_dir: Path | None, key: dict, make: Callable[[], ArraySplit]) -> ArraySplit:
    """``make()``, stored as ``.npz`` under ``cache_dir`` by a hash of ``key`` (detection and masking are slow)."""
    if cache_dir is None:
        return make()
    digest = hashlib.sha256(json.dumps(key, sort_keys=True, default=str).encode()).hexdigest()[:16]
    path = Path(cache_dir) / f"arrays-{digest}.npz"
    if path.is_file():
        with np.load(path) as saved:
            log.info("using cached arrays %s", path)
            return ArraySplit(saved["images"], saved["labels"], [str(n) for n in saved["label_names"]])
    arrays = make()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.npz")
    np.savez(tmp, images=arrays.images, labels=arrays.labels, label_names=np.array(arrays.label_names))
    tmp.replace(path)
    return arrays


def stratified_split(data: ArraySplit, fraction: float, seed: int) -> tuple[ArraySplit, ArraySplit]:
    """Split off ``fraction`` of each class (at least one image each) for validation."""
    rng = np.random.default_rng(seed)
    held = []
    for cls in np.unique(data.labels):
        index = rng.permutation(np.flatnonzero(data.labels == cls))
        held.append(index[: max(1, int(round(len(index) * fraction)))])
    held_out = np.zeros(len(data), dtype=bool)
    held_out[np.concatenate(held)] = True
    return data.subset(np.flatnonzero(~held_out)), data.subset(np.flatnonzero(held_out))


def balance(data: ArraySplit, method: str, seed: int) -> ArraySplit:
    """Even out the classes by random under-sampling, random over-sampling or SMOTE."""
    if method == "none":
        return data
    from imblearn.over_sampling import SMOTE, RandomOverSampler
    from imblearn.under_sampling import RandomUnderSampler

    samplers = {"under": RandomUnderSampler, "over": RandomOverSampler, "smote": SMOTE}
    if method not in samplers:
        raise ValueError(f"unknown balancing {method!r}; choose one of {', '.join(BALANCE_METHODS)}")
    shape = data.images.shape[1:]
    flat, labels = samplers[method](random_state=seed).fit_resample(data.images.reshape(len(data), -1), data.labels)
    images = np.clip(np.rint(flat), 0, 255).astype(np.uint8).reshape(-1, *shape)
    return ArraySplit(images, labels.astype(np.int32), data.label_names)


def make_dataset(
    data: ArraySplit,
    batch_size: int,
    augmenter=None,
    shuffle: bool = False,
    seed: int = 0,
) -> tf.data.Dataset:
    """A batched, prefetched ``tf.data`` pipeline; augmentation runs on whole batches in parallel."""
    ds = tf.data.Dataset.from_tensor_slices((data.images, data.labels))
    if shuffle:
        ds = ds.shuffle(len(data), seed=seed, reshuffle_each_iteration=True)
    ds = ds.batch(batch_size).map(lambda x, y: (tf.cast(x, tf.float32), y), num_parallel_calls=tf.data.AUTOTUNE)
    if augmenter is not None:
        ds = ds.map(lambda x, y: (augmenter(x, training=True), y), num_parallel_calls=tf.data.AUTOTUNE)
    return ds.prefetch(tf.data.AUTOTUNE)
