"""The one pipeline: image -> faces -> crops -> models -> :class:`Face` results.

The CLI, the app, the benchmarks, the evaluation and the tests all go through
:class:`Analyzer`, so a figure measured anywhere is a figure of what users get.

>>> analyzer = Analyzer()                       # shipped models, default detector
>>> faces = analyzer.analyze("photo.jpg")       # path, bytes, PIL image or array
>>> faces[0]["mask"].label, faces[0]["mask"].score
('with_mask', 0.998)
>>> analyzer = Analyzer(gallery="galleries/office")   # adds face["identity"]
>>> analyzer.enroll("Ada Lovelace", ["ada1.jpg", "ada2.jpg"])
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
from .gallery import Gallery, ModelEmbedder
from .image import ImageError, ImageSource, load_image
from .inference import predictor_for
from .masksim import simulate_mask
from .store import StoredModel, load_model

log = logging.getLogger(__name__)

DEFAULT_MODELS: dict[str, str] = {"mask": "mask-mobilenetv2", "gender": "gender-mobilenetv2"}
DEFAULT_IDENTITY_MODEL = "identity-mobilenetv2"
#: Simulated-mask copies added per enrolment photo, so a bare enrolment also matches masked probes.
ENROL_MASKED_COPIES = 2


@dataclass
class ImageResult:
    """The faces found in one input, or the error that stopped it (a CLI output line)."""

    image: str
    faces: list[Face]
    error: str | None = None

    def to_dict(self) -> dict:
        return {"image": self.image, "faces": [face.to_dict() for face in self.faces], "error": self.error}


def enrolment_versions(image: np.ndarray, face: Face, number: int, masked_copies: int) -> list[np.ndarray]:
    """Enrolment photo ``number`` bare, then with ``masked_copies`` simulated masks on ``face`` (seeded by number)."""
    return [image] + [
        simulate_mask(image, face.keypoints, face.box, rng=number * 1000 + k) for k in range(masked_copies)
    ]


class Analyzer:
    """Detect faces and run every task model on them, all faces of an image in one batch per model.

    ``models`` maps each task to run to a model source (shipped name, folder,
    ``hf://``) or an already loaded :class:`StoredModel`; by default every task
    of :data:`DEFAULT_MODELS` runs on its shipped model. With a ``gallery``
    (a folder or an open :class:`Gallery`), each face is also identified
    against the enrolled people by the ``identity`` model (``models["identity"]``,
    default :data:`DEFAULT_IDENTITY_MODEL`). The detector is built lazily, so an
    analyzer used only on face crops never loads one.
    """

    def __init__(
        self,
        models: Mapping[str, str | StoredModel] | None = None,
        detector: str | Detector = "auto",
        gallery: str | os.PathLike | Gallery | None = None,
    ) -> None:
        sources = dict(DEFAULT_MODELS if models is None else models)
        identity = sources.pop("identity", DEFAULT_IDENTITY_MODEL)
        self.models: dict[str, StoredModel] = {
            task: source if isinstance(source, StoredModel) else load_model(source) for task, source in sources.items()
        }
        for task, stored in self.models.items():
            if stored.spec.task != task:
                raise ValueError(f"model {stored.source!r} is a {stored.spec.task} model, not a {task} model")
        self.embedder: ModelEmbedder | None = None
        self.gallery: Gallery | None = None
        if gallery is not None:
            self.embedder = ModelEmbedder(identity if isinstance(identity, StoredModel) else load_model(identity))
            self.gallery = (
                gallery
                if isinstance(gallery, Gallery)
                else Gallery.open(gallery, self.embedder.model_id, default_threshold=self.embedder.threshold)
            )
            if self.gallery.model_id != self.embedder.model_id:
                raise ValueError(f"the gallery at {self.gallery.path} belongs to model {self.gallery.model_id!r}")
        self._detector = detector

    @property
    def detector(self) -> Detector:
        if isinstance(self._detector, str):
            self._detector = make_detector(self._detector)
        return self._detector

    def find_faces(self, pixels: np.ndarray, assume_face: bool = False) -> list[Face]:
        """The faces of an image (or the whole image as one face), without predictions."""
        if assume_face:
            return [Face(box=whole_image_box(pixels), score=1.0, detected=False)]
        return [Face(box=d.box, score=d.score, keypoints=d.keypoints) for d in self.detector.detect(pixels)]

    def analyze(self, image: ImageSource, assume_face: bool = False) -> list[Face]:
        """All faces in ``image`` with every task's prediction; ``assume_face``: the image is one face."""
        pixels = load_image(image)
        faces = self.find_faces(pixels, assume_face)
        for task, stored in self.models.items():
            for face, prediction in zip(faces, self.classify(stored, pixels, faces, assume_face)):
                face.results[task] = prediction
        if self.gallery is not None and faces:
            for face, prediction in zip(faces, self.gallery.identify(self.embed(pixels, faces, assume_face))):
                face.results["identity"] = prediction
        return faces

    def classify(self, stored: StoredModel, pixels: np.ndarray, faces: list[Face], assume_face: bool) -> list[Prediction]:
        """Run one model on all ``faces`` of an image at once."""
        if not faces:
            return []
        spec = stored.spec.crop if not assume_face else CropSpec(stored.spec.crop.size, 1.0)
        batch = crop_faces(pixels, [face.box for face in faces], spec).astype(np.float32)
        probs = predictor_for(stored.model)(batch)
        labels = stored.spec.labels
        return [Prediction(labels[i], float(p[i])) for p, i in zip(probs, probs.argmax(axis=1))]

    def embed(self, pixels: np.ndarray, faces: list[Face], assume_face: bool = False) -> np.ndarray:
        """Identity embeddings (N, D) of ``faces``, one batch."""
        if self.embedder is None:
            raise ValueError("this analyzer has no gallery: open it with Analyzer(gallery=FOLDER)")
        crop = self.embedder.crop if not assume_face else CropSpec(self.embedder.crop.size, 1.0)
        return self.embedder.embed(crop_faces(pixels, [face.box for face in faces], crop))

    def enroll(self, name: str, images: Iterable[ImageSource], masked_copies: int = ENROL_MASKED_COPIES) -> str:
        """Enrol ``name`` from photos showing exactly one face each; returns the person's id.

        Each photo adds its face's embedding and those of ``masked_copies``
        simulated-mask versions of it, so a person enrolled from bare photos
        is also recognised masked. Nothing is stored unless every photo is
        usable: a photo without a face or with several raises ``ValueError``
        naming the photo.
        """
        if self.gallery is None:
            raise ValueError("this analyzer has no gallery: open it with Analyzer(gallery=FOLDER)")
        rows = []
        for number, image in enumerate(images, start=1):
            pixels = load_image(image)
            faces = self.find_faces(pixels)
            if len(faces) != 1:
                what = "no face" if not faces else f"{len(faces)} faces"
                raise ValueError(f"enrolment photo {number} shows {what}; use photos showing only {name!r}")
            rows += [self.embed(v, faces) for v in enrolment_versions(pixels, faces[0], number, masked_copies)]
        if not rows:
            raise ValueError("give at least one enrolment photo")
        return self.gallery.enroll(name, np.concatenate(rows))

    def analyze_many(self, images: Iterable[ImageSource], assume_face: bool = False) -> Iterator[ImageResult]:
        """Analyze each input in turn; an input that cannot be read yields its error and the run goes on."""
        for image in images:
            name = os.fspath(image) if isinstance(image, (str, os.PathLike)) else "<image>"
            try:
                yield ImageResult(str(name), self.analyze(image, assume_face))
            except ImageError as err:
                yield ImageResult(str(name), [], str(err))
