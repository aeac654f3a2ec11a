"""What the analyzer returns: one :class:`Face` per face, enriched by each task's model.

``Face.to_dict()`` is exactly one element of the CLI's ``"faces"`` list, so the
JSON contract lives in one place.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class Prediction:
    """A task's answer for one face: the label and its score (a probability, or a similarity for identity).

    ``candidates`` are the best (label, score) alternatives, best first, for
    tasks that rank many labels (identity); empty for the others. ``threshold``
    is the score a label needs (identity: below it the face is ``unknown``).
    """

    label: str
    score: float
    candidates: tuple[tuple[str, float], ...] = ()
    threshold: float | None = None

    def to_dict(self) -> dict:
        # Scores keep full precision: rounding ties the confident ones and distorts ROC AUC computed downstream.
        data: dict = {"label": self.label, "score": float(self.score)}
        if self.threshold is not None:
            data["threshold"] = float(self.threshold)
        if self.candidates:
            data["candidates"] = [{"label": label, "score": float(score)} for label, score in self.candidates]
        return data


@dataclass
class Face:
    """One face: where it is, how sure the detector was, and one :class:`Prediction` per task.

    ``detected`` is False when the caller said the whole image is the face
    (``--assume-face``); the box then covers the image and ``score`` is 1.
    ``embedding`` is the unit-length identity embedding when the analyzer has
    an identity model (what a gallery matches); it is not part of :meth:`to_dict`.
    """

    box: tuple[float, float, float, float]
    score: float
    detected: bool = True
    keypoints: np.ndarray | None = None
    results: dict[str, Prediction] = field(default_factory=dict)
    embedding: np.ndarray | None = field(default=None, repr=False)

    def __getitem__(self, task: str) -> Prediction:
        return self.results[task]

    def to_dict(self) -> dict:
        data: dict = {
            "box": [int(round(v)) for v in self.box],
            "detected": self.detected,
            "score": round(float(self.score), 4),
        }
        if self.keypoints is not None:
            data["keypoints"] = [[round(float(x), 1), round(float(y), 1)] for x, y in self.keypoints]
        data.update({task: prediction.to_dict() for task, prediction in self.results.items()})
        return data


def wears_mask(faces: Sequence[Face]) -> np.ndarray:
    """Whether each face wears a mask, as the mask model said (False where it did not run): it picks
    the identity network and the gallery threshold for the face."""
    return np.array([face.results["mask"].label == "with_mask" if "mask" in face.results else False for face in faces], bool)
