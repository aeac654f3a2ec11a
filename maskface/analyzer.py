"""The one pipeline: image -> faces -> crops -> models -> an :class:`ImageResult` per image.

The CLI, the app, the benchmarks, the evaluation and the tests all go through
:class:`Analyzer`, so a figure measured anywhere is a figure of what users get.
Each result keeps the decoded image with its faces, so it draws and saves
itself without decoding the input again.

>>> analyzer = Analyzer()                                # shipped mask and gender models
>>> result = analyzer.analyze("examples/astronaut-masked-simulated.jpg")   # a path, bytes, PIL image or array
>>> [(face["mask"].label, round(face["mask"].score, 2)) for face in result]
[('with_mask', 1.0)]
>>> result.plot("mask").width == result.image.shape[1]    # boxed, numbered, a legend below
True

Recognition: an analyzer with an ``identity`` model gives each face its
embedding; matching is the caller's, against a :class:`~maskface.gallery.Gallery`
the caller opens and owns (enrolment: :func:`maskface.enrolment.enroll`).

>>> import tempfile
>>> from maskface.enrolment import enroll
>>> from maskface.gallery import Gallery
>>> analyzer = Analyzer({"mask": "mask-mobilenetv2", "identity": "identity-dlib-resnet"})
>>> gallery = Gallery.for_model(tempfile.mkdtemp(), analyzer.embedder)
>>> _ = enroll(analyzer, gallery, "Grace Hopper", ["examples/grace_hopper.jpg"])
>>> [face["identity"].label for face in analyzer.analyze("examples/grace_hopper-masked-simulated.jpg", gallery=gallery)]
['Grace Hopper']
"""

from __future__ import annotations

import functools
import logging
import os
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, overload

import numpy as np
from PIL import Image

from .calibration import calibrated
from .crops import CropSpec, crop_faces, whole_image_box
from .detect import Detector, make_detector
from .draw import annotate
from .embedding_head import with_head
from .face import Face, Prediction, wears_mask
from .gallery import ModelEmbedder
from .image import ImageError, ImageSource, load_image
from .inference import predictor_for
from .store import StoredModel, load_model

if TYPE_CHECKING:
    from .gallery import Gallery

log = logging.getLogger(__name__)

DEFAULT_MODELS: dict[str, str] = {"mask": "mask-mobilenetv2", "gender": "gender-mobilenetv2"}
DEFAULT_IDENTITY_MODEL = "identity-dlib-resnet"


@dataclass(eq=False)
class ImageResult(Sequence[Face]):
    """One input's faces, with the decoded image they were found in; a sequence of its faces.

    ``source`` names the input (its path, or ``"<image>"``); ``image`` is the
    decoded ``HxWx3`` RGB array, ``None`` with the ``error`` that stopped an
    input that could not be read.
    """

    source: str
    faces: list[Face] = field(default_factory=list)
    image: np.ndarray | None = field(default=None, repr=False)
    error: str | None = None

    @overload
    def __getitem__(self, index: int) -> Face: ...
    @overload
    def __getitem__(self, index: slice) -> list[Face]: ...
    def __getitem__(self, index):
        return self.faces[index]

    def __len__(self) -> int:
        return len(self.faces)

    def to_dict(self) -> dict:
        """The CLI's JSON line: ``{"image": source, "faces": [...], "error": ...}``."""
        return {"image": self.source, "faces": [face.to_dict() for face in self.faces], "error": self.error}

    def plot(self, task: str = "mask") -> Image.Image:
        """The image with every face boxed, coloured by its ``task`` label, label and score above it."""
        if self.image is None:
            raise ValueError(f"{self.source} could not be read, there is nothing to draw: {self.error}")
        return annotate(self.image, self.faces, task)

    def save(self, path: str | os.PathLike, task: str = "mask") -> Path:
        """Write :meth:`plot` to ``path`` (the format follows its extension); returns the path."""
        self.plot(task).save(path)
        return Path(path)


class Analyzer:
    """Detect faces and run every task model on them, all faces of an image in one batch per model.

    ``models`` maps each task to run to a model source (shipped name, folder,
    ``hf://``) or an already loaded :class:`StoredModel`; by default every task
    of :data:`DEFAULT_MODELS` runs on its shipped model. An ``identity`` model
    gives every face its embedding (``face.embedding``), which a gallery
    passed to :meth:`analyze` turns into a name. A model with an embedding
    head (:mod:`maskface.embedding_head`) also reads each face's embedding:
    the analyzer's own identity model's when it is the same one, else the
    model the head names, loaded once per process. The detector is built
    lazily, so an analyzer used only on face crops never loads one.
    """

    def __init__(
        self, models: Mapping[str, str | StoredModel] | None = None, detector: str | Detector = "auto"
    ) -> None:
        sources = dict(DEFAULT_MODELS if models is None else models)
        identity = sources.pop("identity", None)
        self.models: dict[str, StoredModel] = {task: _loaded(source) for task, source in sources.items()}
        for task, stored in self.models.items():
            if stored.spec.task != task:
                raise ValueError(f"model {stored.source!r} is a {stored.spec.task} model, not a {task} model")
        self.embedder = ModelEmbedder(_loaded(identity)) if identity is not None else None
        for stored in self.models.values():  # load what the heads read now, and refuse a mismatch now
            if stored.spec.embedding_head:
                self._head_embedder(stored.spec.embedding_head)
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

    def analyze(self, image: ImageSource, assume_face: bool = False, gallery: Gallery | None = None) -> ImageResult:
        """All faces in ``image`` with every task's prediction; ``assume_face``: the image is one face.

        With a ``gallery`` (of this analyzer's identity model), each face is
        also named: ``face["identity"]``. Raises :class:`ImageError` for an
        input that cannot be read.
        """
        if gallery is not None:
            self._check_gallery(gallery)
        pixels = load_image(image)
        faces = self.predict_faces(pixels, self.find_faces(pixels, assume_face), assume_face, gallery)
        return ImageResult(_name(image), faces, pixels)

    def predict_faces(
        self, pixels: np.ndarray, faces: list[Face], assume_face: bool = False, gallery: Gallery | None = None
    ) -> list[Face]:
        """Every task's answer for ``faces`` of ``pixels`` (found by :meth:`find_faces`, or known), in place.

        Models with an embedding head run last: the head embeds each face with
        the identity network of its kind, which the mask model's answer picks.
        Each image's faces are embedded once per identity model.
        """
        if not faces:
            return faces
        embedded: dict[str, np.ndarray] = {}
        for task, stored in sorted(self.models.items(), key=lambda item: bool(item[1].spec.embedding_head)):
            embeddings = None
            if stored.spec.embedding_head:
                embeddings = self._embeddings(pixels, faces, assume_face, self._head_embedder(stored.spec.embedding_head), embedded)
            for face, prediction in zip(faces, self.classify(stored, pixels, faces, assume_face, embeddings)):
                face.results[task] = prediction
        if self.embedder is not None:
            embeddings = self._embeddings(pixels, faces, assume_face, self.embedder, embedded)
            for face, embedding in zip(faces, embeddings):
                face.embedding = embedding
            if gallery is not None:
                for face, prediction in zip(faces, gallery.identify(embeddings, masked=wears_mask(faces))):
                    face.results["identity"] = prediction
        return faces

    def analyze_many(
        self, images: Iterable[ImageSource], assume_face: bool = False, gallery: Gallery | None = None
    ) -> Iterator[ImageResult]:
        """Analyze each input in turn; an input that cannot be read yields its error and the run goes on."""
        for image in images:
            try:
                yield self.analyze(image, assume_face, gallery)
            except ImageError as err:
                yield ImageResult(_name(image), error=str(err))

    def classify(
        self, stored: StoredModel, pixels: np.ndarray, faces: list[Face], assume_face: bool, embeddings: np.ndarray | None = None
    ) -> list[Prediction]:
        """Run one model on all ``faces`` of an image at once; a model with an embedding head also reads
        the faces' ``embeddings`` by its identity model (computed here when not given)."""
        if not faces:
            return []
        spec = stored.spec.crop if not assume_face else CropSpec(stored.spec.crop.size, 1.0)
        batch = crop_faces(pixels, [face.box for face in faces], spec).astype(np.float32)
        probs = predictor_for(stored.model)(batch)
        head = stored.spec.embedding_head
        if head:
            if embeddings is None:
                embeddings = self.embed(pixels, faces, assume_face, wears_mask(faces), self._head_embedder(head))
            probs = with_head(probs, stored.spec.labels, embeddings, head)
        probs = calibrated(probs, stored.spec.calibration)
        labels = stored.spec.labels
        return [Prediction(labels[i], float(p[i])) for p, i in zip(probs, probs.argmax(axis=1))]

    def embed(
        self,
        pixels: np.ndarray,
        faces: list[Face],
        assume_face: bool = False,
        masked: np.ndarray | None = None,
        embedder: ModelEmbedder | None = None,
    ) -> np.ndarray:
        """Identity embeddings (N, D) of ``faces``, one batch; ``masked`` (N,) picks the network of a
        two-network identity model for each face (default: the bare one); ``embedder``: another
        identity model than the analyzer's own."""
        embedder = embedder or self.embedder
        if embedder is None:
            raise ValueError("this analyzer has no identity model: give one, Analyzer({..., 'identity': SOURCE})")
        crop = embedder.crop if not assume_face else replace(embedder.crop, scale=1.0)
        crops = crop_faces(pixels, [face.box for face in faces], crop, [face.keypoints for face in faces])
        return embedder.embed(crops, masked)

    def _embeddings(
        self, pixels: np.ndarray, faces: list[Face], assume_face: bool, embedder: ModelEmbedder, done: dict[str, np.ndarray]
    ) -> np.ndarray:
        """:meth:`embed` by ``embedder``, kept in ``done`` by its embedding space for the image's other users."""
        if embedder.model_id not in done:
            done[embedder.model_id] = self.embed(pixels, faces, assume_face, wears_mask(faces), embedder)
        return done[embedder.model_id]

    def _head_embedder(self, head: dict) -> ModelEmbedder:
        """The identity model an embedding head reads: the analyzer's own if it is the same, else the
        one the head names (loaded once per process)."""
        wanted = head["embedding_id"]
        if self.embedder is not None and self.embedder.model_id == wanted:
            return self.embedder
        embedder = _shared_embedder(str(head["identity_model"]))
        if embedder.model_id != wanted:
            raise ValueError(
                f"the embedding head reads embeddings of {wanted!r}, but {head['identity_model']!r} "
                f"gives {embedder.model_id!r}: fit the head again (python -m training embedding-head)"
            )
        return embedder

    def _check_gallery(self, gallery: Gallery) -> None:
        if self.embedder is None:
            raise ValueError("identifying needs an identity model: Analyzer({..., 'identity': SOURCE})")
        if gallery.model_id != self.embedder.model_id:
            raise ValueError(
                f"the gallery at {gallery.path} holds embeddings of model {gallery.model_id!r}, "
                f"not of this analyzer's {self.embedder.model_id!r}"
            )


@functools.lru_cache(maxsize=4)
def _shared_embedder(source: str) -> ModelEmbedder:
    """An identity model named by embedding heads, loaded once per process for every analyzer that reads it."""
    return ModelEmbedder(load_model(source))


def _loaded(source: str | os.PathLike | StoredModel) -> StoredModel:
    return source if isinstance(source, StoredModel) else load_model(source)


def _name(image: ImageSource) -> str:
    """How an input is named in results: its path, or ``<image>``."""
    return str(os.fspath(image)) if isinstance(image, (str, os.PathLike)) else "<image>"
