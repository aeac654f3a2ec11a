"""What the analyzer returns: one :class:`Face` per face, enriched by each task's model.

``Face.to_dict()`` is exactly one element of the CLI's ``"faces"`` list, so the
JSON contract lives in one place.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class Prediction:
    """A task's answer for one face: the label and its probability."""

    label: str
    score: float

    def to_dict(self) -> dict:
        return {"label": self.label, "score": round(self.score, 4)}


@dataclass
class Face:
    """One face: where it is, how sure the detector was, and one :class:`Prediction` per task.

    ``detected`` is False when the caller said the whole image is the face
    (``--assume-face``); the box then covers the image and ``score`` is 1.
    """

    box: tuple[float, float, float, float]
    score: float
    detected: bool = True
    keypoints: np.ndarray | None = None
    results: dict[str, Prediction] = field(default_factory=dict)

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
