"""Measure a saved model on a split, through the same analyzer the CLI uses.

Each image goes through ``Analyzer.analyze(image, assume_face=True)``: the
figures are those of ``python -m maskface predict --assume-face``.
"""

from __future__ import annotations

import logging
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from sklearn.metrics import confusion_matrix, roc_auc_score  # noqa: E402
from tqdm.auto import tqdm  # noqa: E402

from maskface.analyzer import Analyzer  # noqa: E402
from maskface.store import load_model, resolve, write_spec  # noqa: E402
from maskface.tasks import get_task  # noqa: E402

from . import data as data_lib  # noqa: E402
from .card import write_card  # noqa: E402

log = logging.getLogger(__name__)


def evaluate(model_source: str, data: str, split: str = "test", protocol: str = "MASK", write: bool = False) -> dict:
    """Accuracy, ROC AUC and the confusion matrix of a model on ``split``; optionally stored with the model."""
    stored = load_model(model_source)
    task = get_task(stored.spec.task)
    analyzer = Analyzer(models={task.name: stored})
    ds = data_lib.load_split(data, split)
    names = ds.features["label"].names
    truth, positive_prob = [], []
    for row in tqdm(ds, desc=f"evaluating on {split}", unit="img"):
        label = names[row["label"]]
        if label not in task.labels:
            continue
        (face,) = analyzer.analyze(row["image"], assume_face=True)
        prediction = face[task.name]
        p = prediction.score if prediction.label == task.positive else 1.0 - prediction.score
        truth.append(task.labels.index(label))
        positive_prob.append(p)
    report = figures(np.asarray(truth), np.asarray(positive_prob), task.labels, task.labels.index(task.positive))
    report |= {"protocol": protocol, "split": split, "data": str(data), "model": str(model_source)}
    folder = resolve(model_source)
    plot_confusion(report["confusion_matrix"], list(task.labels), folder / "confusion_matrix.png")
    if write:
        spec = stored.spec
        spec.metrics[protocol] = {k: report[k] for k in ("accuracy", "roc_auc", "n", "split")} | {
            "confusion_matrix": report["confusion_matrix"]
        }
        write_spec(spec, folder)
        write_card(folder, spec)
    return report


def figures(truth: np.ndarray, positive_prob: np.ndarray, labels: tuple[str, ...], positive: int) -> dict:
    """Accuracy, ROC AUC (positive class = ``positive``) and confusion matrix (rows = truth)."""
    other = 1 - positive
    predicted = np.where(positive_prob >= 0.5, positive, other)
    return {
        "accuracy": round(float((predicted == truth).mean()), 4),
        "roc_auc": round(float(roc_auc_score(truth == positive, positive_prob)), 4),
        "n": int(len(truth)),
        "labels": list(labels),
        "confusion_matrix": confusion_matrix(truth, predicted, labels=list(range(len(labels)))).tolist(),
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
