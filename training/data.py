"""From an imagefolder directory or a Hub dataset to arrays and ``tf.data`` pipelines.

Both sources go through ``datasets.load_dataset`` so a local folder and a Hub
dataset id behave the same. Images are framed exactly as the analyzer frames
them, so training and inference see the same crops: face photos are padded to
a square (an ``--assume-face`` input), other photos are cropped around their
detected face (:class:`DetectFraming`).

The labeling tab's dataset (:func:`load_labels`) is read the same way and
merged in by :func:`labeled_arrays`: the trained task's rows only, unsure
labels skipped, one row per crop, and a stable held-out part for evaluation.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import uuid
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import datasets
import numpy as np
import tensorflow as tf
from datasets.fingerprint import generate_fingerprint
from tqdm.auto import tqdm

from maskface.crops import crop_square, locate_face, pad_to_square
from maskface.detect import make_detector
from maskface.image import load_image
from maskface.masksim import simulate_mask
from maskface.tasks import Task

from .aggregate import DAWID_SKENE_FROM, aggregate

log = logging.getLogger(__name__)

BALANCE_METHODS = ("none", "under", "over", "smote")
UNSURE = "unsure"
LABEL_COLUMNS = ("task", "label", "crop_sha256")
"""Columns the labeling dataset must have (``maskface.labels``' ``metadata.jsonl``)."""


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

    def __add__(self, other: ArraySplit) -> ArraySplit:
        if other.label_names != self.label_names:
            raise ValueError(f"cannot merge labels {other.label_names} into {self.label_names}")
        return ArraySplit(
            np.concatenate([self.images, other.images]), np.concatenate([self.labels, other.labels]), self.label_names
        )


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


def label_column(ds: datasets.Dataset, task: Task) -> str:
    """The column with the task's labels: the task's own (``column``, else its name) when present, else ``label``."""
    column = task.column or task.name
    return column if column in ds.column_names else "label"


def row_label(ds: datasets.Dataset, task: Task) -> Callable[[dict], str]:
    """A function giving a row's label as text, from :func:`label_column`, decoding imagefolder's class indices."""
    column = label_column(ds, task)
    feature = ds.features[column]
    if isinstance(feature, datasets.ClassLabel):
        return lambda row: feature.names[row[column]]
    return lambda row: row[column]


def to_arrays(ds: datasets.Dataset, task: Task, size: int, framing: DetectFraming | None = None) -> ArraySplit:
    """Decode, frame and resize every image; map the dataset's labels onto the task's label order.

    Without ``framing`` an image is taken as a face crop and padded to a square
    (what ``--assume-face`` does), decoded in parallel threads (Pillow releases
    the GIL while decoding); rows with other labels (e.g. ``unknown``) are left out.
    """
    label_of = row_label(ds, task)
    column = label_column(ds, task)
    found = [label_of(row) for row in ds.select_columns([column])]
    keep = [i for i, label in enumerate(found) if label in task.labels]
    if not keep:
        raise ValueError(f"no rows labelled {' or '.join(task.labels)} in the data")
    encoded = ds.cast_column("image", datasets.Image(decode=False)).select_columns(["image"])
    sources = [item["bytes"] or item["path"] for item in encoded.select(keep)["image"]]
    progress = {"desc": f"loading {len(keep)} images", "unit": "img", "leave": False, "total": len(keep)}
    if framing is None:
        with ThreadPoolExecutor(max_workers=min(8, os.cpu_count() or 1)) as pool:
            images = list(tqdm(pool.map(lambda source: pad_to_square(load_image(source), size), sources), **progress))
    else:
        detector = make_detector(framing.detector)
        rng = np.random.default_rng(framing.seed)
        images = []
        for i, source in tqdm(zip(keep, sources), **progress):
            pixels = load_image(source)
            face = locate_face(pixels, detector)
            if rng.random() < framing.masked_fraction:
                pixels = simulate_mask(pixels, face.keypoints, face.box, rng=framing.seed + i)
            images.append(crop_square(pixels, face.box, size, framing.scale))
    labels = np.asarray([task.labels.index(found[i]) for i in keep], dtype=np.int32)
    return ArraySplit(np.stack(images), labels, list(task.labels))


@dataclass
class LabeledData:
    """The labeling tab's crops for one task: a training part, a held-out part, and what was left out why."""

    train: ArraySplit
    held_out: ArraySplit
    summary: dict = field(default_factory=dict)


def load_labels(source: str) -> datasets.Dataset:
    """Every row of the labeling dataset (a folder in imagefolder layout or a Hub dataset id), splits joined."""
    if Path(source).is_dir():
        dsd = datasets.load_dataset("imagefolder", data_dir=str(source))
    else:
        dsd = datasets.load_dataset(source)
    table = datasets.concatenate_datasets(list(dsd.values()))
    missing = [c for c in LABEL_COLUMNS if c not in table.column_names]
    if missing:
        raise ValueError(f"{source} is not a labeling dataset: its metadata.jsonl lacks {', '.join(missing)}")
    return table


#: The labeling tab's task whose answers train a task of another name: names given in the
#: identity queue train the closed-set classifier when they are among its people.
LABELING_TASK = {"identity-closed": "identity"}


def select_labels(table: datasets.Dataset, task: Task) -> tuple[datasets.Dataset, dict]:
    """One row per crop for ``task``, labelled by the aggregate of its labelers' answers.

    Several labelers per face are aggregated by :func:`training.aggregate.aggregate`
    (majority below three labelers per face, the most common count among the
    crops; Dawid-Skene from three on). Skipped, and counted in the returned
    summary: rows of other tasks, labels marked unsure or not usable or outside
    the task's labels, rows without the contributor's consent, and crops whose
    labelers tie under majority.
    """
    columns = [c for c in ("task", "label", "crop_sha256", "usable", "consent", "labeler_id") if c in table.column_names]
    votes: list[tuple[str, str, str]] = []
    first: dict[str, int] = {}
    skipped: Counter = Counter()
    wanted = LABELING_TASK.get(task.name, task.name)
    for i, row in enumerate(table.select_columns(columns)):
        if row["task"] != wanted:
            skipped["other_task"] += 1
        elif row.get("consent", True) is not True:
            skipped["no_consent"] += 1
        elif row["label"] == UNSURE or row.get("usable", True) is False:
            skipped["unsure"] += 1
        elif row["label"] not in task.labels:
            skipped["unknown_label"] += 1
        else:
            votes.append((row["crop_sha256"], row.get("labeler_id") or f"row{i}", row["label"]))
            first.setdefault(row["crop_sha256"], i)
    per_face = Counter(Counter(item for item, _, _ in votes).values())
    labelers_per_face = per_face.most_common(1)[0][0] if per_face else 1
    agreed = aggregate(votes, labelers_per_face)
    skipped["conflicting"] += sum(1 for item, _, _ in votes if item not in agreed)
    skipped["duplicate"] += sum(1 for item, _, _ in votes if item in agreed) - len(agreed)
    chosen = {first[sha]: label for sha, label in agreed.items()}
    index = sorted(chosen)
    rows = table.select(index)
    rows = rows.remove_columns("label").add_column("label", [chosen[i] for i in index])
    summary = {"rows": len(table), "used": len(index), "labelers_per_face": labelers_per_face,
               "aggregation": "dawid-skene" if labelers_per_face >= DAWID_SKENE_FROM else "majority"}
    return rows, {**summary, "skipped": {k: v for k, v in sorted(skipped.items()) if v}}


def held_out_split(data: ArraySplit, keys: list[str], fraction: float) -> tuple[ArraySplit, ArraySplit]:
    """Hold out ``fraction`` of each class (one at least, when a class has two), chosen by ``keys``.

    Keys are the crops' SHA-256 digests: the choice depends on the crops alone, not on
    their order or on a seed, so a rerun holds out the same crops.
    """
    held = []
    for cls in np.unique(data.labels):
        index = sorted(np.flatnonzero(data.labels == cls), key=lambda i: keys[i])
        n = int(round(len(index) * fraction))
        if len(index) >= 2:
            n = min(max(n, 1), len(index) - 1)
        held += index[:n]
    mask = np.zeros(len(data), dtype=bool)
    mask[held] = True
    return data.subset(np.flatnonzero(~mask)), data.subset(np.flatnonzero(mask))


def pixel_digests(images: np.ndarray) -> list[str]:
    """A digest of each framed crop's pixels, to find the same face photo in two datasets."""
    return [hashlib.sha1(image.tobytes()).hexdigest() for image in images]


def labeled_arrays(
    source: str,
    task: Task,
    size: int,
    held_out_fraction: float,
    cache_dir: Path | None,
    base: ArraySplit | None = None,
) -> LabeledData:
    """The labeling dataset's crops for ``task``, framed like face photos, split into train and held-out.

    Crops whose framed pixels equal an image of ``base`` (the base training
    data) are dropped, so nothing is counted twice or evaluated on seen data.
    """
    rows, summary = select_labels(load_labels(source), task)
    empty = ArraySplit(np.zeros((0, size, size, 3), np.uint8), np.zeros(0, np.int32), list(task.labels))
    if not len(rows):
        log.warning("no usable %s labels in %s", task.name, source)
        return LabeledData(empty, empty, summary | {"source": source})
    key = {"labels": generate_fingerprint(rows), "task": task.name, "size": size}
    arrays = cached_arrays(cache_dir, key, lambda: to_arrays(rows, task, size))
    keys = list(rows["crop_sha256"])
    if base is not None:
        seen = set(pixel_digests(base.images))
        fresh = np.asarray([d not in seen for d in pixel_digests(arrays.images)], dtype=bool)
        if not fresh.all():
            summary["skipped"]["in_base_data"] = int((~fresh).sum())
        arrays, keys = arrays.subset(np.flatnonzero(fresh)), [k for k, f in zip(keys, fresh) if f]
    train, held_out = held_out_split(arrays, keys, held_out_fraction)
    summary |= {"source": source, "train": train.counts(), "held_out": held_out.counts()}
    log.info("labels from %s: %s", source, summary)
    return LabeledData(train, held_out, summary)


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
    tmp = path.with_name(f".tmp-{uuid.uuid4().hex}.npz")  # several workers may be making the same arrays
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
    drop_remainder: bool = False,
) -> tf.data.Dataset:
    """A batched, prefetched ``tf.data`` pipeline of float32 pixels.

    ``augmenter`` (when given) runs on whole batches in parallel on the host;
    leave it out when the model augments on the accelerator. The frames are
    decoded once and held in memory (and on disk by :func:`cached_arrays`), so
    each epoch only shuffles, batches and casts. Under a multi-worker strategy
    every worker reads its own share of each batch; ``drop_remainder`` leaves
    out a last partial batch, which would give some replicas no images at all.
    """
    ds = tf.data.Dataset.from_tensor_slices((data.images, data.labels))
    if shuffle:
        ds = ds.shuffle(len(data), seed=seed, reshuffle_each_iteration=True)
    ds = ds.batch(batch_size, drop_remainder=drop_remainder).map(
        lambda x, y: (tf.cast(x, tf.float32), y), num_parallel_calls=tf.data.AUTOTUNE
    )
    if augmenter is not None:
        ds = ds.map(lambda x, y: (augmenter(x, training=True), y), num_parallel_calls=tf.data.AUTOTUNE)
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    return ds.with_options(options).prefetch(tf.data.AUTOTUNE)
