"""Fit a model for a task: data, balancing, augmentation, callbacks, saving.

Pretrained backbones train in two phases: the new head on a frozen backbone,
then the top of the backbone with a ten times smaller learning rate. The
weights with the best validation accuracy are the ones saved.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import keras
import numpy as np

from maskface.architectures import DEFAULT_INPUT_SIZE, build_model, default_backbone_weights, set_backbone_trainable
from maskface.crops import CropSpec
from maskface.store import ModelSpec, load_model, save_model
from maskface.tasks import get_task

from . import data as data_lib
from .augment import build_augmenter

log = logging.getLogger(__name__)

# Where fine-tuning starts in each pretrained backbone.
FINE_TUNE_FROM = {"mobilenetv2": "block_13", "vgg16": "block4"}
# How far a detector box is enlarged so a detected face is framed like the training photos:
# on 276 single-face images of mask/train, image side / RetinaFace box side has median 1.2.
DETECTOR_BOX_SCALE = 1.2


@dataclass
class TrainConfig:
    task: str
    arch: str
    data: str
    out: str
    epochs: int = 12
    fine_tune_epochs: int = 8
    batch_size: int = 32
    learning_rate: float = 1e-3
    input_size: int | None = None
    balance: str = "none"
    weights: str | None = "auto"
    val_fraction: float = 0.1
    seed: int = 1234
    limit: int | None = None
    """Use at most this many training images (smoke tests, quick runs)."""
    framing: str = "whole"
    """``whole``: the images are face crops; ``detect``: crop around the detected face (LFW)."""
    masked_fraction: float = 0.0
    """With ``detect`` framing: the share of training images that get a simulated mask."""
    cache_dir: str | None = ".cache/maskface"
    init_from: str | None = None
    """Start from the weights of this saved model (same task and architecture) instead of from scratch."""


def train(cfg: TrainConfig) -> Path:
    """Train, keep the best checkpoint, and save the model folder to ``cfg.out``; returns it."""
    keras.utils.set_random_seed(cfg.seed)
    task = get_task(cfg.task)
    size = cfg.input_size or DEFAULT_INPUT_SIZE[cfg.arch]
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)

    framing = (
        data_lib.DetectFraming(DETECTOR_BOX_SCALE, cfg.masked_fraction, cfg.seed) if cfg.framing == "detect" else None
    )
    rows = data_lib.load_split(cfg.data, "train")
    # the dataset's fingerprint changes with its files, so a grown dataset is never served stale arrays
    key = {"rows": rows._fingerprint, "task": task.name, "size": size, "framing": framing}
    full = data_lib.cached_arrays(cfg.cache_dir, key, lambda: data_lib.to_arrays(rows, task, size, framing))
    if cfg.limit:
        full = full.subset(np.random.default_rng(cfg.seed).permutation(len(full))[: cfg.limit])
    train_set, val_set = data_lib.stratified_split(full, cfg.val_fraction, cfg.seed)
    train_set = data_lib.balance(train_set, cfg.balance, cfg.seed)
    log.info("train %s, validation %s", train_set.counts(), val_set.counts())

    weights = default_backbone_weights(cfg.arch) if cfg.weights == "auto" else cfg.weights
    model = build_model(cfg.arch, len(task.labels), size, weights=weights)
    earlier: dict | None = None
    if cfg.init_from:
        start = load_model(cfg.init_from)
        if (start.spec.task, start.spec.arch, start.spec.crop.size) != (task.name, cfg.arch, size):
            raise ValueError(f"{cfg.init_from} is a {start.spec.arch} {start.spec.task} model at {start.spec.crop.size} px")
        model.set_weights(start.model.get_weights())
        earlier = start.spec.training
    train_ds = data_lib.make_dataset(train_set, cfg.batch_size, build_augmenter(cfg.seed), shuffle=True, seed=cfg.seed)
    val_ds = data_lib.make_dataset(val_set, cfg.batch_size)

    checkpoint = out / "best.weights.h5"
    history: list[dict] = []
    if cfg.arch == "cnn":
        phases = [("scratch", cfg.epochs, cfg.learning_rate, None)]
    else:
        phases = [("head", cfg.epochs, cfg.learning_rate, None)]
        if cfg.fine_tune_epochs > 0:
            phases.append(("fine-tune", cfg.fine_tune_epochs, cfg.learning_rate / 10, FINE_TUNE_FROM[cfg.arch]))

    best = -1.0
    started = time.time()
    for name, epochs, lr, unfreeze_from in phases:
        set_backbone_trainable(model, unfreeze_from)
        model.compile(
            optimizer=keras.optimizers.Adam(lr),
            loss="sparse_categorical_crossentropy",
            metrics=["accuracy"],
        )
        saver = keras.callbacks.ModelCheckpoint(
            str(checkpoint), monitor="val_accuracy", save_best_only=True, save_weights_only=True, mode="max"
        )
        saver.best = best  # a later phase only overwrites the checkpoint when it beats the earlier one
        log.info("phase %s: %d epochs at learning rate %g", name, epochs, lr)
        fit = model.fit(
            train_ds,
            validation_data=val_ds,
            epochs=epochs,
            shuffle=False,  # the pipeline shuffles
            verbose=1 if sys.stderr.isatty() else 2,
            callbacks=[saver, keras.callbacks.ReduceLROnPlateau(monitor="val_loss", factor=0.5, patience=3, min_lr=1e-6)],
        )
        best = saver.best
        history += [
            {"phase": name, **{k: float(v[i]) for k, v in fit.history.items()}} for i in range(len(fit.history["loss"]))
        ]
    model.load_weights(str(checkpoint))
    checkpoint.unlink()

    settings = asdict(cfg) | {
        "weights": weights,
        "input_size": size,
        "train_counts": train_set.counts(),
        "val_counts": val_set.counts(),
        "best_val_accuracy": float(best),
        "train_seconds": round(time.time() - started, 1),
        "continues": earlier,
        "images_per_second": round(sum(len(train_set) * e for _, e, _, _ in phases) / (time.time() - started), 1),
    }
    spec = ModelSpec(
        task=task.name,
        arch=cfg.arch,
        labels=list(task.labels),
        crop=CropSpec(size=size, scale=DETECTOR_BOX_SCALE),
        training=settings,
    )
    save_model(model, spec, out)
    (out / "history.json").write_text(json.dumps(history, indent=1) + "\n")
    log.info("saved %s (best validation accuracy %.4f)", out, best)
    return out
