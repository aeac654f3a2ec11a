"""Measure a saved model on its task's protocol, through the same analyzer the CLI uses.

For MASK each image goes through ``Analyzer.analyze(image, assume_face=True)``:
the figures are those of ``python -m maskface predict --assume-face``.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import datasets  # noqa: E402
import numpy as np  # noqa: E402
from sklearn.metrics import confusion_matrix, roc_auc_score  # noqa: E402
from tqdm.auto import tqdm  # noqa: E402

from maskface.analyzer import DEFAULT_MODELS, Analyzer  # noqa: E402
from maskface.crops import LocatedFace  # noqa: E402
from maskface.enrolment import ENROL_MASKED_COPIES  # noqa: E402
from maskface.face import Face, Prediction  # noqa: E402
from maskface.gallery import ModelEmbedder  # noqa: E402
from maskface.image import ImageSource, load_image  # noqa: E402
from maskface.masksim import simulate_mask  # noqa: E402
from maskface.store import StoredModel, load_model, resolve, write_spec  # noqa: E402
from maskface.tasks import CLOSED_SET, get_task  # noqa: E402

from . import data as data_lib  # noqa: E402
from . import gender_r  # noqa: E402
from .card import confusion_png, write_card  # noqa: E402
from .protocols import closed_set_part, evaluate_idm  # noqa: E402

log = logging.getLogger(__name__)

#: Where the faces located in evaluation photos are kept (the training command's default cache folder).
FACES_CACHE = Path(".cache/maskface")


def evaluate(
    model_source: str,
    data: str,
    split: str = "test",
    write: bool = False,
    labels: str | None = None,
    labels_root: str | None = None,
) -> dict:
    """The figures of a model on its task's protocol; with ``write``, stored in its spec and card (and the
    confusion matrices drawn beside them); without, nothing is written.

    MASK: accuracy, ROC AUC and the confusion matrix of ``predict --assume-face``
    on the face photos of ``split``. GENDER-M: the same plus balanced accuracy
    on the central face of each photo, once with a simulated mask (seeded per
    image) and once bare; ID-CLOSED (the closed-set classifier) likewise on its
    test part, with accuracy and balanced accuracy. ID-M (identity models;
    ``data`` is the LFW folder): see :func:`evaluate_identity`. Gender models
    given ``labels`` (a labels dataset of shared photos) also get GENDER-R's
    test figures (:func:`training.gender_r.evaluate`).
    """
    stored = load_model(model_source)
    if stored.spec.task == "identity":
        return evaluate_identity(stored, model_source, data, write)
    task = get_task(stored.spec.task, stored.spec.labels)
    # gender: the shipped mask model beside it, as ``predict`` runs it (its answer picks the identity network
    # an embedding head reads)
    analyzer = gender_r.gender_analyzer(stored) if task.name == "gender" else Analyzer(models={task.name: stored})
    if task.name == CLOSED_SET:  # its test part lies inside LFW's train split (other people than ID-M's)
        rows = closed_set_part(data_lib.load_split(data, "train"), task.labels, "test")
    else:
        rows = data_lib.load_split(data, split)
    label_of = data_lib.row_label(rows, task)
    # faces located once per photo file and kept (training.data.FaceCache), as training finds them
    faces = data_lib.FaceCache(FACES_CACHE) if task.protocol in ("GENDER-M", "ID-CLOSED") else None
    paths = [item["path"] for item in rows.cast_column("image", datasets.Image(decode=False))["image"]]
    truth: list[int] = []
    predictions: dict[str, list[Prediction]] = defaultdict(list)
    for i, row in enumerate(tqdm(rows, desc=f"evaluating on {split}", unit="img")):
        label = label_of(row)
        if label not in task.labels:
            continue
        truth.append(task.labels.index(label))
        locate = (lambda pixels, path=paths[i]: faces.locate(pixels, path)) if faces else None
        for condition, prediction in _predict(analyzer, stored, row["image"], locate, seed=i).items():
            predictions[condition].append(prediction)
    folder = resolve(model_source)
    report: dict = {"model": str(model_source), "data": str(data), "split": split}
    for condition, found in predictions.items():
        protocol = f"{task.protocol} {condition}".strip()
        if len(task.labels) == 2:
            positive = [p.score if p.label == task.positive else 1.0 - p.score for p in found]
            figs = figures(np.asarray(truth), np.asarray(positive), task.labels, task.labels.index(task.positive))
            if write:
                plot_confusion(figs["confusion_matrix"], list(task.labels), folder / confusion_png(protocol))
        else:
            figs = multiclass_figures(np.asarray(truth), np.asarray([task.labels.index(p.label) for p in found]))
        report[protocol] = figs
        stored.spec.metrics[protocol] = {"split": split} | {k: v for k, v in figs.items() if k != "labels"}
    if labels and task.name == "gender" and data_lib.is_labelset(labels):
        real = gender_r.evaluate(stored, labels, labels_root or gender_r.DEFAULT_ROOT, "test")
        report[gender_r.PROTOCOL] = real
        for protocol, entry in gender_r.metrics_entries(real).items():
            stored.spec.metrics[protocol] = entry
            if write:
                plot_confusion(entry["confusion_matrix"], ["female", "male"], folder / confusion_png(protocol))
    if write:
        write_spec(stored.spec, folder)
        write_card(folder, stored.spec)
    return report


def evaluate_identity(stored: StoredModel, model_source: str, lfw_dir: str, write: bool = False) -> dict:
    """ID-M and ID-M-1 figures of an identity model, enrolling as the product does (bare photos +
    simulated-mask copies) and telling masked faces from bare ones with the shipped mask model.

    The thresholds at FAR 1% for bare and for masked probes are stored as
    ``unknown_threshold bare`` and ``unknown_threshold masked``: new galleries
    of this model start with them.
    """
    embedder = ModelEmbedder(stored)
    analyzer = Analyzer(models={"mask": DEFAULT_MODELS["mask"]})
    mask_model = analyzer.models["mask"]

    def is_masked(image: np.ndarray, face) -> bool:
        prediction = analyzer.classify(mask_model, image, [Face(box=face.box, score=1.0)], assume_face=False)[0]
        return prediction.label == "with_mask"

    report = evaluate_idm(
        lambda crops, masked: embedder.embed(np.stack(crops), masked),
        embedder.crop,
        lfw_dir,
        masked_copies=ENROL_MASKED_COPIES,
        is_masked=is_masked,
    )
    report["model"] = str(model_source)
    report["mask_model"] = DEFAULT_MODELS["mask"]
    thresholds = {f"unknown_threshold {kind}": value for kind, value in report["unknown_threshold"].items()}
    stored.spec.metrics.pop("ID-M", None)
    for protocol, figures in (("ID-M", report), ("ID-M-1", report["one_photo"])):
        stored.spec.metrics[protocol] = {
            **thresholds,
            "masked_copies_per_gallery_image": ENROL_MASKED_COPIES,
            **{f"{condition} {k}": v for condition in ("masked", "unmasked") for k, v in figures[condition].items()},
        }
    if write:
        folder = resolve(model_source)
        write_spec(stored.spec, folder)
        write_card(folder, stored.spec)
    return report


def _predict(
    analyzer: Analyzer, stored: StoredModel, image: ImageSource, locate: Callable[[np.ndarray], LocatedFace] | None, seed: int
) -> dict[str, Prediction]:
    """One prediction per condition: the face photo as is (MASK), or its central face (found by ``locate``)
    masked and bare (GENDER-M)."""
    if locate is None:
        (face,) = analyzer.analyze(image, assume_face=True)
        return {"": face[stored.spec.task]}
    pixels = load_image(image)
    located = locate(pixels)
    masked = simulate_mask(pixels, located.keypoints, located.box, rng=seed)
    task = stored.spec.task
    return {
        condition: analyzer.predict_faces(image, [Face(box=located.box, score=1.0, keypoints=located.keypoints)])[0][task]
        for condition, image in (("masked", masked), ("unmasked", pixels))
    }


def figures(truth: np.ndarray, positive_prob: np.ndarray, labels: tuple[str, ...], positive: int) -> dict:
    """Accuracy, balanced accuracy (mean per-class recall), ROC AUC (positive class = ``positive``)
    and the confusion matrix (rows = truth)."""
    other = 1 - positive
    predicted = np.where(positive_prob >= 0.5, positive, other)
    recalls = [float((predicted[truth == c] == c).mean()) for c in np.unique(truth)]
    return {
        "accuracy": round(float((predicted == truth).mean()), 4),
        "balanced_accuracy": round(float(np.mean(recalls)), 4),
        "roc_auc": round(float(roc_auc_score(truth == positive, positive_prob)), 4),
        "n": int(len(truth)),
        "labels": list(labels),
        "confusion_matrix": confusion_matrix(truth, predicted, labels=list(range(len(labels)))).tolist(),
    }


def multiclass_figures(truth: np.ndarray, predicted: np.ndarray) -> dict:
    """Accuracy and balanced accuracy (mean per-class recall) of a many-class classifier."""
    recalls = [float((predicted[truth == c] == c).mean()) for c in np.unique(truth)]
    return {
        "accuracy": round(float((predicted == truth).mean()), 4),
        "balanced_accuracy": round(float(np.mean(recalls)), 4),
        "n": int(len(truth)),
    }


def plot_confusion(matrix: list[list[int]], labels: list[str], path: Path) -> None:
    """Save the confusion matrix as a small annotated PNG."""
    fig, ax = plt.subplots(figsize=(3.6, 3.2), dpi=100)
    ax.imshow(matrix, cmap="Blues")
    ax.set_xticks(range(len(labels)), labels, rotation=20)
    ax.set_yticks(range(len(labels)), labels)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    top = max(max(row) for row in matrix) or 1
    for i, row in enumerate(matrix):
        for j, value in enumerate(row):
            ax.text(j, i, str(value), ha="center", va="center", color="white" if value > top / 2 else "black")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
