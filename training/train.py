"""Fit a model for a task: data, devices, augmentation, callbacks, resuming, saving.

Pretrained backbones train in two phases: the new head on a frozen backbone,
then the top of the backbone with a ten times smaller learning rate. The
weights with the best validation accuracy are the ones saved.

The devices and precision come from :mod:`training.devices`; ``batch_size``
is per replica, so the global batch grows with the replicas. Under mixed
precision the output layer stays float32 (and Keras scales the loss); the
saved model is always float32. An interrupted run resumes from ``OUT/.run``
(:mod:`training.progress`).
"""

from __future__ import annotations

import json
import logging
import sys
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf
from datasets.fingerprint import generate_fingerprint

from maskface.calibration import calibrated, calibration_entry
from maskface.crops import CropSpec
from maskface.labelset import DEFAULT_ROOT
from maskface.masksim import STYLES, TRAINING_STYLES
from maskface.store import ModelSpec, load_model, save_model
from maskface.tasks import CLOSED_SET, Task, get_task

from . import data as data_lib
from .architectures import DEFAULT_INPUT_SIZE, build_model, default_backbone_weights, set_backbone_trainable
from .augment import build_augmenter, with_augmentation
from .card import HISTORY_FILE, confusion_png
from .devices import dtype_policy, gpus, make_strategy, prepare_for_strategy, use_mixed_precision, worker_id
from .evaluate import figures, plot_confusion
from .protocols import closed_set_part, closed_set_people
from .progress import AtomicBackupAndRestore, EpochLog, KeepBest, RunFolder

log = logging.getLogger(__name__)

# Where fine-tuning starts in each pretrained backbone.
FINE_TUNE_FROM = {"mobilenetv2": "block_13", "vgg16": "block4", "mobilenetv2-face": "block_13"}
# How far a detector box is enlarged so a detected face is framed like the training photos:
# on 276 single-face images of mask/train, image side / RetinaFace box side has median 1.2.
DETECTOR_BOX_SCALE = 1.2
# Every architecture ends in this softmax layer; under mixed precision it computes in float32.
OUTPUT_LAYER = "probs"
HELD_OUT = "LABELS held-out"
"""Metrics key of the labeling dataset's held-out part."""
AUGMENT_PLACES = ("auto", "pipeline", "model")
# Settings that may change between an interrupted run and its resumption.
RESUMABLE_CHANGES = ("cache_dir",)


@dataclass
class TrainConfig:
    task: str
    arch: str
    data: str
    out: str
    epochs: int = 12
    fine_tune_epochs: int = 8
    fine_tune_from: str | None = None
    """The backbone layer (name prefix) the fine-tune phase unfreezes from; None: the architecture's default."""
    batch_size: int = 32
    """Per replica: the global batch is this times the number of replicas."""
    learning_rate: float = 1e-3
    input_size: int | None = None
    balance: str = "none"
    weights: str | None = "auto"
    val_fraction: float = 0.1
    seed: int = 1234
    limit: int | None = None
    """Use at most this many base training images (smoke tests, quick runs)."""
    framing: str = "whole"
    """``whole``: the images are face crops; ``detect``: crop around the detected face (LFW)."""
    masked_fraction: float = 0.0
    """With ``detect`` framing: the share of training images that get a simulated mask."""
    cache_dir: str | None = ".cache/maskface"
    init_from: str | None = None
    """Start from the weights of this saved model (same task and architecture) instead of from scratch."""
    labels: str | None = None
    """The labeling tab's dataset (folder or Hub dataset id), merged with ``data``."""
    held_out_fraction: float = 0.2
    """Share of each class of ``labels`` kept out of training, for evaluation (the app's labels; a labels
    dataset of shared photos has GENDER-R's fixed validation part instead)."""
    labels_root: str = str(DEFAULT_ROOT)
    """The shared data folder whose photos a labels dataset (``maskface.labelset``) names."""
    labels_repeat: int = 1
    """How many times each face of the labels' training part is seen per epoch (weight of real photos vs LFW)."""
    per_person: int | None = None
    """At most this many base images per person (``identity`` column), chosen with the seed."""
    mask_styles: str = "protocol"
    """``protocol``: simulated masks of the protocols' styles; ``more``: also the training-only styles."""
    tight_fraction: float = 0.0
    """With ``detect`` framing: the share of base images cut close around the face, grey outside."""
    augment: str = "standard"
    """``standard`` or ``strong`` (more colour, blur, JPEG and pose): :func:`training.augment.build_augmenter`."""
    mixed_precision: str = "auto"
    strategy: str = "auto"
    augment_on: str = "auto"
    """``pipeline``: tf.data on the host; ``model``: in the training graph (on the GPU); auto: model on GPUs."""


@dataclass(frozen=True)
class Phase:
    name: str
    epochs: int
    learning_rate: float
    unfreeze_from: str | None


def plan(cfg: TrainConfig) -> list[Phase]:
    """From scratch: one phase. Pretrained: the head, then the top of the backbone at a tenth of the rate."""
    if cfg.arch == "cnn":
        return [Phase("scratch", cfg.epochs, cfg.learning_rate, None)]
    # --epochs 0: no head phase (a model given with --init-from already has its head)
    phases = [Phase("head", cfg.epochs, cfg.learning_rate, None)] if cfg.epochs > 0 else []
    if cfg.fine_tune_epochs > 0:
        unfreeze = cfg.fine_tune_from or FINE_TUNE_FROM[cfg.arch]
        phases.append(Phase("fine-tune", cfg.fine_tune_epochs, cfg.learning_rate / 10, unfreeze))
    return phases


def training_data(
    cfg: TrainConfig, task: Task, size: int
) -> tuple[data_lib.ArraySplit, data_lib.ArraySplit, data_lib.LabeledData | None]:
    """Training and validation arrays from the base data plus the labels' training part; the labels' held-out part."""
    styles = (*STYLES, *TRAINING_STYLES) if cfg.mask_styles == "more" else None
    framing = (
        data_lib.DetectFraming(
            DETECTOR_BOX_SCALE, cfg.masked_fraction, cfg.seed, styles=styles, tight_fraction=cfg.tight_fraction
        )
        if cfg.framing == "detect"
        else None
    )
    rows = data_lib.load_split(cfg.data, "train")
    if task.name == CLOSED_SET:
        rows = closed_set_part(rows, task.labels, "train")
    if cfg.per_person:
        rows = data_lib.per_person(rows, cfg.per_person, cfg.seed)
    # the dataset's fingerprint changes with its files, so a grown dataset is never served stale arrays
    key = {"rows": generate_fingerprint(rows), "task": task.name, "size": size, "framing": framing}
    full = data_lib.cached_arrays(
        cfg.cache_dir, key, lambda: data_lib.to_arrays(rows, task, size, framing, cfg.cache_dir)
    )
    if cfg.limit:
        full = full.subset(np.random.default_rng(cfg.seed).permutation(len(full))[: cfg.limit])
    labeled = None
    if cfg.labels and data_lib.is_labelset(cfg.labels):
        # GENDER-R: the labels' validation part (by photo) joins the validation data, never the training data
        crop = CropSpec(size, DETECTOR_BOX_SCALE)
        labeled = data_lib.labelset_arrays(cfg.labels, task, crop, cfg.labels_root, cfg.cache_dir)
        train_set, val_set = data_lib.stratified_split(full, cfg.val_fraction, cfg.seed)
        for _ in range(cfg.labels_repeat):
            train_set = train_set + labeled.train
        val_set = val_set + labeled.held_out
    else:
        if cfg.labels:
            labeled = data_lib.labeled_arrays(cfg.labels, task, size, cfg.held_out_fraction, cfg.cache_dir, base=full)
            full = full + labeled.train
        train_set, val_set = data_lib.stratified_split(full, cfg.val_fraction, cfg.seed)
    train_set = data_lib.balance(train_set, cfg.balance, cfg.seed)
    log.info("train %s, validation %s", train_set.counts(), val_set.counts())
    return train_set, val_set, labeled


def evaluate_held_out(
    model: keras.Model, held_out: data_lib.ArraySplit, task: Task, folder: Path, name: str = HELD_OUT,
    calibration: dict | None = None,
) -> dict | None:
    """Figures of ``model`` (with ``calibration``, as it will answer) on the labels' held-out crops (framed like
    ``predict --assume-face``), with a confusion PNG.

    ``None`` when the held-out part lacks a class: ROC AUC needs both.
    """
    if len(np.unique(held_out.labels)) < len(task.labels):
        log.warning("the held-out labels %s lack a class: not evaluated", held_out.counts())
        return None
    probs = calibrated(model.predict(held_out.images.astype(np.float32), batch_size=64, verbose=0), calibration or {})
    positive = task.labels.index(task.positive)
    figs = figures(held_out.labels, probs[:, positive], task.labels, positive)
    plot_confusion(figs["confusion_matrix"], list(task.labels), folder / confusion_png(name))
    return {"split": "held-out"} | {k: v for k, v in figs.items() if k != "labels"}


def calibrate(model: keras.Model, data: data_lib.ArraySplit, name: str) -> dict:
    """The temperature and offsets that calibrate ``model`` on ``data`` (:mod:`maskface.calibration`), with ECE
    before and after."""
    report = calibration_entry(model.predict(data.images.astype(np.float32), batch_size=64, verbose=0), data.labels, name)
    log.info("calibration: %s", report)
    return report


@dataclass
class Setup:
    """Where and how a run trains: the strategy, its replicas, the precision and where augmentation runs."""

    strategy: tf.distribute.Strategy
    mixed: bool
    augment_on: str

    @property
    def replicas(self) -> int:
        return self.strategy.num_replicas_in_sync

    def describe(self) -> dict:
        return {
            "strategy": type(self.strategy).__name__,
            "replicas": self.replicas,
            "mixed_precision": self.mixed,
            "augment_on": self.augment_on,
            "devices": [d.name for d in tf.config.list_logical_devices()],
        }


def build_models(cfg: TrainConfig, setup: Setup, classes: int, size: int, weights: str | None):
    """The network that is saved, and the model that is fitted (the network, or augmentation + network)."""
    with setup.strategy.scope(), dtype_policy("mixed_float16" if setup.mixed else "float32"):
        model = build_model(cfg.arch, classes, size, weights=weights)
        if setup.mixed:
            model.get_layer(OUTPUT_LAYER).dtype_policy = "float32"  # softmax and loss in float32
        fitted = model
        if setup.augment_on == "model":
            with dtype_policy("float32"):  # keras-cv's geometry is written for float32
                fitted = with_augmentation(model, build_augmenter(cfg.seed, cfg.augment))
    prepare_for_strategy(fitted, setup.strategy)
    return model, fitted


def fit_phases(
    phases: list[Phase], model: keras.Model, fitted: keras.Model, setup: Setup, run: RunFolder, train_ds, val_ds, n: int
) -> None:
    """Fit each phase not finished yet, resuming an interrupted one from its last backed-up epoch."""
    done = [p for p in phases if run.phase_done(p.name)]
    if done:
        model.set_weights(run.weights(f"after-{done[-1].name}"))
        log.info("phases already done: %s", ", ".join(p.name for p in done))
    tty = sys.stderr.isatty()
    for i, phase in enumerate(phases):
        if phase in done:
            continue
        set_backbone_trainable(model, phase.unfreeze_from)
        with setup.strategy.scope():
            fitted.compile(
                optimizer=keras.optimizers.Adam(phase.learning_rate),
                loss="sparse_categorical_crossentropy",
                metrics=["accuracy"],
            )
        resume_at = run.resume_epoch(phase.name)
        if resume_at:
            log.info("resuming phase %s at epoch %d/%d", phase.name, resume_at + 1, phase.epochs)
        log.info("phase %s: %d epochs at learning rate %g", phase.name, phase.epochs, phase.learning_rate)
        fitted.fit(
            train_ds,
            validation_data=val_ds,
            epochs=phase.epochs,
            shuffle=False,  # the pipeline shuffles
            verbose=1 if tty else 0,
            callbacks=[
                EpochLog(run, phase.name, n, sum(p.epochs for p in phases[i + 1 :]), batch_lines=not tty),
                KeepBest(run, model),
                keras.callbacks.ReduceLROnPlateau(monitor="val_loss", factor=0.5, patience=3, min_lr=1e-6),
                # kept after the phase ends, until finish_phase has the phase's weights
                AtomicBackupAndRestore(str(run.backup_dir(phase.name)), delete_checkpoint=False),
            ],
        )
        run.finish_phase(phase.name, model.get_weights())


def train(cfg: TrainConfig) -> Path | None:
    """Train, keep the best weights, and save the model folder to ``cfg.out``; returns it.

    Run again with the same settings after an interruption, it resumes. In a
    multi-worker cluster every worker trains and only the chief saves (the
    others return ``None``).
    """
    strategy = make_strategy(cfg.strategy)  # first: a multi-worker strategy must exist before other TF work
    keras.utils.set_random_seed(cfg.seed)
    task = get_task(cfg.task, closed_set_people(data_lib.load_split(cfg.data, "train")) if cfg.task == CLOSED_SET else None)
    size = cfg.input_size or DEFAULT_INPUT_SIZE[cfg.arch]
    if cfg.augment_on not in AUGMENT_PLACES:
        raise ValueError(f"augment_on is one of {', '.join(AUGMENT_PLACES)}, not {cfg.augment_on!r}")
    if not 0 <= cfg.held_out_fraction < 1:
        raise ValueError(f"the held-out share of the labels must be in [0, 1), got {cfg.held_out_fraction}")
    augment_on = cfg.augment_on if cfg.augment_on != "auto" else "model" if gpus() else "pipeline"
    setup = Setup(strategy, use_mixed_precision(cfg.mixed_precision), augment_on)
    worker = worker_id(strategy)
    # every worker trains; only the chief's folder is the model (the others keep their own resume state)
    out = Path(cfg.out) if worker is None else Path(cfg.out) / f".worker-{worker}"
    out.mkdir(parents=True, exist_ok=True)
    run = RunFolder(out, {k: v for k, v in asdict(cfg).items() if k not in RESUMABLE_CHANGES})
    global_batch = cfg.batch_size * setup.replicas
    log.info(
        "%s with %d replica(s): global batch %d, %s, augmentation in the %s",
        type(strategy).__name__,
        setup.replicas,
        global_batch,
        "mixed_float16" if setup.mixed else "float32",
        augment_on,
    )

    train_set, val_set, labeled = training_data(cfg, task, size)
    # with --init-from every weight comes from that model: the backbone's own (maybe a download) would be overwritten
    weights = None if cfg.init_from else default_backbone_weights(cfg.arch) if cfg.weights == "auto" else cfg.weights
    model, fitted = build_models(cfg, setup, len(task.labels), size, weights)
    earlier: dict | None = None
    if cfg.init_from:
        start = load_model(cfg.init_from)
        # another input size is fine for a network that pools before its dense layers (its weights fit as they are)
        fits = [w.shape for w in start.model.get_weights()] == [tuple(w.shape) for w in model.weights]
        if (start.spec.task, start.spec.arch) != (task.name, cfg.arch) or not fits:
            raise ValueError(
                f"{cfg.init_from} is a {start.spec.arch} {start.spec.task} model at {start.spec.crop.size} px: its "
                f"weights do not fit a {cfg.arch} {task.name} model at {size} px"
            )
        model.set_weights(start.model.get_weights())
        earlier = start.spec.training
    with dtype_policy("float32"):  # built outside the strategy: tf.data runs it on the host
        host_augmenter = build_augmenter(cfg.seed, cfg.augment) if augment_on == "pipeline" else None
    # every replica gets a full batch: a partial last one would leave some with none
    train_ds = data_lib.make_dataset(
        train_set, global_batch, host_augmenter, shuffle=True, seed=cfg.seed, drop_remainder=setup.replicas > 1
    )
    val_ds = data_lib.make_dataset(val_set, global_batch)
    fit_phases(plan(cfg), model, fitted, setup, run, train_ds, val_ds, len(train_set))
    if worker is not None:
        run.remove()
        out.rmdir()
        log.info("worker %d done: the chief saves the model", worker)
        return None

    history = run.history()
    # a plain float32 copy, outside the strategy: what inference loads, and safe to run on the chief alone
    with dtype_policy("float32"):
        export = build_model(cfg.arch, len(task.labels), size, weights=None)
    export.set_weights(run.weights("best"))
    metrics = {}
    held_name = f"{labeled.summary['protocol']} validation" if labeled and "protocol" in labeled.summary else HELD_OUT
    # the confidence is calibrated on the labels' held-out part when there is one (real photos), else on validation
    calibration_set, calibration_name = (
        (labeled.held_out, held_name) if labeled is not None and len(labeled.held_out) else (val_set, "validation")
    )
    calibration = calibrate(export, calibration_set, calibration_name)
    if labeled is not None and len(labeled.held_out):
        held = evaluate_held_out(export, labeled.held_out, task, out, held_name, calibration)
        metrics = {held_name: held} if held else {}
    settings = (
        asdict(cfg)
        | setup.describe()
        | {
            "weights": weights,
            "input_size": size,
            "global_batch_size": global_batch,
            "train_counts": train_set.counts(),
            "val_counts": val_set.counts(),
            "labels_data": labeled.summary if labeled else None,
            "best_val_accuracy": run.best(),
            "train_seconds": round(sum(r["seconds"] for r in history), 1),
            "images_per_second": round(float(np.median([r["images_per_second"] for r in history])), 1),
            "continues": earlier,
            "trained_at": datetime.now(timezone.utc).strftime("%Y-%m-%d"),
        }
    )
    crop = CropSpec(size=size, scale=DETECTOR_BOX_SCALE)
    spec = ModelSpec(
        task.name, cfg.arch, list(task.labels), crop, metrics=metrics, training=settings, calibration=calibration
    )
    save_model(export, spec, out)
    (out / HISTORY_FILE).write_text(json.dumps(history, indent=1) + "\n")
    run.remove()
    log.info("saved %s (best validation accuracy %.4f)", out, settings["best_val_accuracy"])
    return out
