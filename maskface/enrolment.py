"""Enrolment: a person's photos -> their face embeddings, bare and with simulated masks -> a gallery.

A function over an :class:`~maskface.analyzer.Analyzer` (which finds and
embeds faces) and a :class:`~maskface.gallery.Gallery` (which the caller
opened and owns): the analyzer never opens or writes a gallery.

>>> import tempfile
>>> from maskface import Analyzer
>>> from maskface.gallery import Gallery
>>> analyzer = Analyzer({"identity": "identity-dlib-resnet"})
>>> gallery = Gallery.for_model(tempfile.mkdtemp(), analyzer.embedder)
>>> person = enroll(analyzer, gallery, "Grace Hopper", ["examples/grace_hopper.jpg"])
>>> gallery.people()[0]["name"], gallery.people()[0]["embeddings"]
('Grace Hopper', 3)
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

import numpy as np

from .face import Face, wears_mask
from .image import ImageSource, load_image
from .masksim import simulate_mask

if TYPE_CHECKING:
    from .analyzer import Analyzer
    from .gallery import Gallery

#: Simulated-mask copies added per enrolment photo, so a bare enrolment also matches masked probes.
ENROL_MASKED_COPIES = 2


def enrolment_versions(image: np.ndarray, face: Face, number: int, masked_copies: int) -> list[np.ndarray]:
    """Enrolment photo ``number`` bare, then with ``masked_copies`` simulated masks on ``face`` (seeded by number)."""
    return [image] + [
        simulate_mask(image, face.keypoints, face.box, rng=number * 1000 + k) for k in range(masked_copies)
    ]


def enroll(
    analyzer: Analyzer,
    gallery: Gallery,
    name: str,
    images: Iterable[ImageSource],
    masked_copies: int = ENROL_MASKED_COPIES,
    **options,
) -> str:
    """Enrol ``name`` into ``gallery`` from photos showing exactly one face each; returns the person's id.

    Each photo adds its face's embedding and those of ``masked_copies``
    simulated-mask versions of it (embedded as masked faces; the photo itself
    as the analyzer's mask model sees it), so a person enrolled from bare
    photos is also recognised masked. Nothing is stored unless every photo is usable: a
    photo without a face or with several raises ``ValueError`` naming the photo.
    ``options`` go to :meth:`~maskface.gallery.Gallery.enroll` (``add_to_existing``, ``max_people``).
    """
    if analyzer.embedder is None:
        raise ValueError("enrolment needs an analyzer with an identity model: Analyzer({..., 'identity': SOURCE})")
    if gallery.model_id != analyzer.embedder.model_id:
        raise ValueError(f"the gallery at {gallery.path} belongs to model {gallery.model_id!r}")
    rows = []
    for number, image in enumerate(images, start=1):
        pixels = load_image(image)
        faces = analyzer.find_faces(pixels)
        if len(faces) != 1:
            what = "no face" if not faces else f"{len(faces)} faces"
            raise ValueError(f"enrolment photo {number} shows {what}; use photos showing only {name!r}")
        if "mask" in analyzer.models:
            faces[0].results["mask"] = analyzer.classify(analyzer.models["mask"], pixels, faces, False)[0]
        masked = bool(wears_mask(faces)[0])
        versions = enrolment_versions(pixels, faces[0], number, masked_copies)
        rows += [analyzer.embed(v, faces, masked=np.array([masked or k > 0])) for k, v in enumerate(versions)]
    if not rows:
        raise ValueError("give at least one enrolment photo")
    return gallery.enroll(name, np.concatenate(rows), **options)
