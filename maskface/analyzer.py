"""The one pipeline: image -> faces -> crops -> models -> :class:`Face` results.

The CLI, the app, the benchmarks, the evaluation and the tests all go through
:class:`Analyzer`, so a figure measured anywhere is a figure of what users get.

>>> analyzer = Analyzer()                       # shipped models, default detector
>>> faces = analyzer.analyze("photo.jpg")       # path, bytes, PIL image or array
>>> faces[0]["mask"].label, faces[0]["mask"].score
('with_mask', 0.998)
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass

import numpy as np

from .crops import CropSpec, crop_faces, whole_image_box
from .detect import Detector, make_detector
from .face import Face, Prediction
from .image import ImageError, ImageSource, load_image
from .store import StoredModel, load_model

log = logging.getLogger(__name__)

DEFAULT_MODELS: dict[str, str] = {"mask": "mask-mobilenetv2", "gender": "gender-mobilenetv2"}


@dataclass
class ImageResult:
    """The faces found in one input, or the error that stopped it (a CLI output line)."""

    image: str
    faces: list[Face]
    error: str | None = None

    def to_dict(self) -> dict:
        return {"image": self.image, "faces": [face.to_dict() for face in self.faces], "error": self.error}


class Analyzer:
    """Detect faces and run every task model on them, all faces of an image in one batch per model.

    ``models`` maps each task to run to a model source (shipped name, folder,
    ``hf://``) or an already loaded :class:`StoredModel`; by default every task
    of :data:`DEFAULT_MODELS` runs on its shipped model. The detector is built
    lazily, so an analyzer used only on face crops never loads one.
    """

    def __init__(
        self,
        models: Mapping[str, str | StoredModel] | None = None,
        detector: str | Detector = "auto",
    ) -> None:
        sources = DEFAULT_MODELS if models is None else models
        self.models: dict[str, StoredModel] = {
            task: source if isinstance(source, StoredModel) else load_model(source) for task, source in sources.items()
        }
        for task, stored in self.models.items():
            if stored.spec.task != task:
                raise ValueError(f"model {stored.source!r} is a {stored.spec.task} model, not a {task} model")
        self._detector = detector

    @property
    def detector(self) -> Detector:
        if isinstance(self._detector, str):
            self._detector = make_detector(self._detector)
        return self._detector

    def analyze(self, image: ImageSource, assume_face: bool = False) -> list[Face]:
        """All faces in ``image`` with every task's prediction; ``assume_face``: the image is one face."""
        pixels = load_image(image)
        if assume_face:
            faces = [Face(box=whole_image_box(pixels), score=1.0, detected=False)]
        else:
            faces = [
                Face(box=d.box, score=d.score, keypoints=d.keypoints) for d in self.detector.detect(pixels)
            ]
        for task, stored in self.models.items():
            for face, prediction in zip(faces, self.classify(stored, pixels, faces, assume_face)):
                face.results[task] = prediction
        return faces

    def classify(self, stored: StoredModel, pixels: np.ndarray, faces: list[Face], assume_face: bool) -> list[Prediction]:
        """Run one model on all ``faces`` of an image at once."""
        if not faces:
            return []
        spec = stored.spec.crop if not assume_face else CropSpec(stored.spec.crop.size, 1.0)
        batch = crop_faces(pixels, [face.box for face in faces], spec).astype(np.float32)
        probs = np.asarray(stored.model(batch, training=False))
        labels = stored.spec.labels
        return [Prediction(labels[i], float(p[i])) for p, i in zip(probs, probs.argmax(axis=1))]

    def analyze_many(self, images: Iterable[ImageSource], assume_face: bool = False) -> Iterator[ImageResult]:
        """Analyze each input in turn; an input that cannot be read yields its error and the run goes on."""
        for image in images:
            name = os.fspath(image) if isinstance(image, (str, os.PathLike)) else "<image>"
            try:
                yield ImageResult(str(name), self.analyze(image, assume_face))
            except ImageError as err:
                yield ImageResult(str(name), [], str(err))
