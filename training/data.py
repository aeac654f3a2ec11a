"""From an imagefolder directory or a Hub dataset to arrays and ``tf.data`` pipelines.

Both sources go through ``datasets.load_dataset`` so a local folder and a Hub
dataset id behave the same. Images are framed exactly as the analyzer frames
an ``--assume-face`` input (padded to a square, resized), so training and
inference see the same crops.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import datasets
import numpy as np
import tensorflow as tf
from tqdm.auto import tqdm

from maskface.crops import pad_to_square
from maskface.image import load_image
from maskface.tasks import Task

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


def load_split(data: str, split: str) -> datasets.Dataset:
    """Load one split of an imagefolder directory or a Hub dataset id."""
    if Path(data).is_dir():
        dsd = datasets.load_dataset("imagefolder", data_dir=str(data))
    else:
        dsd = datasets.load_dataset(data)
    if split not in dsd:
        raise ValueError(f"{data} has no {split!r} split (it has: {', '.join(dsd)})")
    return dsd[split]


def to_arrays(ds: datasets.Dataset, task: Task, size: int, label_column: str = "label") -> ArraySplit:
    """Decode, frame and resize every image; map the dataset's labels onto the task's label order."""
    feature = ds.features[label_column]
    names = feature.names if isinstance(feature, datasets.ClassLabel) else None
    images, labels = [], []
    for row in tqdm(ds, desc=f"loading {len(ds)} images", unit="img", leave=False):
        label = names[row[label_column]] if names else row[label_column]
        if label not in task.labels:
            continue
        images.append(pad_to_square(load_image(row["image"]), size))
        labels.append(task.labels.index(label))
    if not labels:
        raise ValueError(f"no rows labelled {' or '.join(task.labels)} in the data")
    return ArraySplit(np.stack(images), np.asarray(labels, dtype=np.int32), list(task.labels))


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
