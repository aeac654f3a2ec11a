"""The ID-M protocol of ``../shared/data/README.md``: open-set identification of masked faces.

ID-M enrols people no model has seen (LFW ``split=test``) from two bare photos
each and asks who the other photos show, each with a simulated mask - how the
product is used. Any embedding model plugs in as a function from face crops to
embeddings, so trained models, the frozen ImageNet baseline and the lead's
benchmark all get figures from this one runner; dlib's baseline
(``bench/dlib_baseline.py``, its own environment) reads the same masked probes
exported by ``export-idm`` and scores them with the same
:mod:`maskface.matching`.

Faces are found as the product finds them (the detector, on the bare LFW
image, the detection closest to the centre); where it finds none, the central
80x80 square - LFW's face region - is used and counted. Masked probes get the
mask drawn on that face from its keypoints, with a seed and style fixed per
probe, so every run sees the same pixels. Detections and crops live in memory
only.

    python -m training idm [--size 160] [--scale 1.0] [--rule max] [--out FILE]   # the frozen baseline
    python -m training export-idm OUT_DIR

ID-CLOSED, the seeds' closed-set recognition kept for comparison with the
papers (88% on 6 people, 91.9-93.5% on 30), is defined here too: the 30 LFW
``split=train`` people with at least 30 images; each person's last fifth of
images (by file name) is the test part, seen masked and bare.
"""

from __future__ import annotations

import csv
import json
import logging
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import datasets
import numpy as np
from PIL import Image
from tqdm.auto import tqdm

from maskface.crops import FALLBACK_SIDE, CropSpec, LocatedFace, crop_face, locate_face
from maskface.detect import Detector, make_detector
from maskface.enrolment import enrolment_versions
from maskface.image import load_image
from maskface.masksim import STYLES, simulate_mask
from maskface.matching import DEFAULT_RULE, idm_figures, normalise, person_scores

from .architectures import default_backbone_weights

log = logging.getLogger(__name__)

REPO = Path(__file__).resolve().parents[1]
DEFAULT_LFW = REPO.parent / "shared" / "data" / "lfw"
MIN_IMAGES = 4
GALLERY_IMAGES = 2

EmbedFaces = Callable[[list[np.ndarray], np.ndarray], np.ndarray]
"""(face crops, whether each face is masked) -> (N, D) embeddings."""
IsMasked = Callable[[np.ndarray, LocatedFace], bool]
"""(image, its located face) -> whether the face is masked (the mask model's answer)."""
CLOSED_SET_MIN_IMAGES = 30
CLOSED_SET_TEST_FRACTION = 0.2


@dataclass(frozen=True)
class IdmItem:
    """One ID-M image: its ``metadata.csv`` file name (relative to the LFW folder) and person.

    Probes also carry the mask simulator's ``seed`` and ``style``.
    """

    file_name: str
    person: str
    seed: int | None = None
    style: str | None = None


class FrozenBackboneEmbedder:
    """Baseline embedder: ImageNet MobileNetV2's globally pooled features, never trained on faces.

    It is the floor a trained embedding model has to beat on ID-M.
    ``weights`` defaults to the local ImageNet file when the shared folder
    has it, else Keras's download.
    """

    def __init__(self, size: int = 160, scale: float = 1.0, weights: str | None = None, batch_size: int = 64) -> None:
        import keras

        self.crop = CropSpec(size, scale)
        self.model_id = f"imagenet-mobilenetv2-avgpool-{size}px-x{scale:g}"
        self.batch_size = batch_size
        self._backbone = keras.applications.MobileNetV2(
            input_shape=(size, size, 3),
            include_top=False,
            pooling="avg",
            weights=weights or default_backbone_weights("mobilenetv2"),
        )

    def embed(self, crops: np.ndarray) -> np.ndarray:
        """Unit-norm embeddings (N, 1280) of uint8 RGB crops (N, size, size, 3)."""
        pixels = np.asarray(crops, dtype=np.float32) / 127.5 - 1.0
        features = [
            np.asarray(self._backbone(pixels[i : i + self.batch_size], training=False))
            for i in range(0, len(pixels), self.batch_size)
        ]
        if not features:
            return np.zeros((0, self._backbone.output_shape[-1]), np.float32)
        return normalise(np.concatenate(features))


def closed_set_people(rows: datasets.Dataset) -> list[str]:
    """ID-CLOSED's people: those with at least :data:`CLOSED_SET_MIN_IMAGES` images in ``rows`` (LFW train)."""
    counts = Counter(rows["identity"])
    return sorted(person for person, n in counts.items() if n >= CLOSED_SET_MIN_IMAGES)


def closed_set_part(rows: datasets.Dataset, people: Sequence[str], part: str) -> datasets.Dataset:
    """The ``train`` or ``test`` part of ID-CLOSED: per person, the last fifth of images by file name is ``test``."""
    if part not in ("train", "test"):
        raise ValueError(f"ID-CLOSED has a train and a test part, not {part!r}")
    paths = [item["path"] for item in rows.cast_column("image", datasets.Image(decode=False))["image"]]
    by_person: dict[str, list[int]] = defaultdict(list)
    for i, person in enumerate(rows["identity"]):
        if person in people:
            by_person[person].append(i)
    keep = []
    for person in people:
        index = sorted(by_person[person], key=lambda i: Path(paths[i]).name)
        tested = int(np.ceil(len(index) * CLOSED_SET_TEST_FRACTION))
        keep += index[-tested:] if part == "test" else index[:-tested]
    return rows.select(sorted(keep))


def idm_split(lfw_dir: str | Path = DEFAULT_LFW) -> tuple[list[IdmItem], list[IdmItem]]:
    """(gallery, probes) of ID-M: LFW ``split=test`` people with at least 4 images.

    Each person's first 2 images by file name are the gallery; the rest are
    probes, numbered in order of person then file name, probe i getting seed
    i and style ``STYLES[i % len(STYLES)]``.
    """
    by_person: dict[str, list[str]] = defaultdict(list)
    with open(Path(lfw_dir) / "metadata.csv", newline="") as f:
        for row in csv.DictReader(f):
            if row["split"] == "test":
                by_person[row["identity"]].append(row["file_name"])
    gallery: list[IdmItem] = []
    probes: list[IdmItem] = []
    for person in sorted(by_person):
        files = sorted(by_person[person], key=lambda name: Path(name).name)
        if len(files) < MIN_IMAGES:
            continue
        gallery += [IdmItem(name, person) for name in files[:GALLERY_IMAGES]]
        for name in files[GALLERY_IMAGES:]:
            i = len(probes)
            probes.append(IdmItem(name, person, seed=i, style=STYLES[i % len(STYLES)]))
    return gallery, probes


def locate_faces(
    items: Sequence[IdmItem], lfw_dir: str | Path, detector: str | Detector = "auto"
) -> dict[str, LocatedFace]:
    """Load every item's image and locate its face, keyed by file name."""
    detector = make_detector(detector) if isinstance(detector, str) else detector
    faces = {
        item.file_name: locate_face(load_image(Path(lfw_dir) / item.file_name), detector)
        for item in tqdm(items, desc="detecting ID-M faces", unit="img")
    }
    missed = sum(not face.detected for face in faces.values())
    log.info("ID-M: no face found in %d of %d images; the central %d px square used", missed, len(faces), FALLBACK_SIDE)
    return faces


def masked_probe(face: LocatedFace, item: IdmItem) -> np.ndarray:
    """The probe's image with its simulated mask (the probe's style and seed)."""
    return simulate_mask(face.image, face.keypoints, face.box, style=item.style, rng=item.seed)


def evaluate_idm(
    embed_faces: EmbedFaces,
    crop: CropSpec,
    lfw_dir: str | Path = DEFAULT_LFW,
    detector: str | Detector = "auto",
    rule: str = DEFAULT_RULE,
    masked_copies: int = 0,
    is_masked: IsMasked | None = None,
) -> dict:
    """ID-M figures of an embedding model, for masked and for unmasked probes, enrolling 2 photos and 1.

    ``embed_faces`` maps a list of uint8 RGB face crops, framed by ``crop``
    (aligned on the face's keypoints when ``crop`` asks for it), and whether
    each face is masked, to (N, D) embeddings. Probes are scored against each
    gallery person with ``rule`` (see :mod:`maskface.matching`). ``masked_copies``
    > 0 enrols, beside each bare gallery photo, that many simulated-mask versions
    of it, as :func:`maskface.enrolment.enroll` does.

    Whether a face is masked is what ``is_masked(image, face)`` says (the mask
    model, as in the product), for the gallery photos and the probes; the
    simulated-mask copies count as masked. Without it, the condition decides.

    ``one_photo`` (ID-M-1) repeats the figures with each person enrolled from
    their first photo only (and its copies), for the same probes: how well a
    person enrolled from one photo is found in photos taken at other moments,
    poses and lighting. ``unknown_threshold`` holds, for ``bare`` and ``masked``
    probes (as routed), the threshold at FAR 1% over both conditions' probes:
    the values to open a gallery of this model with.
    """
    gallery, probes = idm_split(lfw_dir)
    faces = locate_faces(gallery + probes, lfw_dir, detector)

    def masked_flags(images: Sequence[np.ndarray], items: Sequence[IdmItem], condition: bool) -> np.ndarray:
        if is_masked is None:
            return np.full(len(items), condition)
        return np.array([is_masked(image, faces[item.file_name]) for image, item in zip(images, items)], bool)

    copies = masked_copies or 0
    bare_images = [faces[item.file_name].image for item in gallery]
    bare_masked = masked_flags(bare_images, gallery, False)
    gallery_images, gallery_items, gallery_masked, first_photo = [], [], [], []
    firsts = {item.person: item for item in reversed(gallery)}  # each person's first photo by file name
    for number, (item, image, masked) in enumerate(zip(gallery, bare_images, bare_masked), start=1):
        versions = enrolment_versions(image, faces[item.file_name], number, copies) if copies else [image]
        gallery_images += versions
        gallery_items += [item] * len(versions)
        gallery_masked += [masked] + [True] * (len(versions) - 1)
        first_photo += [firsts[item.person] == item] * len(versions)

    def embed(images: Sequence[np.ndarray], items: Sequence[IdmItem], masked: np.ndarray) -> np.ndarray:
        crops = [
            crop_face(image, faces[item.file_name].box, crop, faces[item.file_name].keypoints)
            for image, item in zip(images, items)
        ]
        return normalise(embed_faces(crops, np.asarray(masked, bool)))

    people = sorted({item.person for item in gallery})
    index = {person: k for k, person in enumerate(people)}
    owners = np.array([index[item.person] for item in gallery_items])
    truth = np.array([index[item.person] for item in probes])
    enrolled = embed(gallery_images, gallery_items, np.array(gallery_masked))
    first = np.array(first_photo)
    fallbacks = sorted(name for name, face in faces.items() if not face.detected)
    report: dict = {
        "protocol": "ID-M",
        "people": len(people),
        "gallery_images": len(gallery),
        "masked_copies_per_gallery_image": copies,
        "probe_images": len(probes),
        "rule": rule,
        "crop": crop.to_dict(),
        "detector": detector if isinstance(detector, str) else detector.name,
        "detector_fallbacks": len(fallbacks),
        "fallback_files": fallbacks,
        "one_photo": {"protocol": "ID-M-1", "gallery_images": len(people)},
    }
    masked = [masked_probe(faces[item.file_name], item) for item in tqdm(probes, desc="masking probes", unit="img")]
    conditions = {"masked": masked, "unmasked": [faces[item.file_name].image for item in probes]}
    routed, scores_of = {}, {}
    for condition, images in conditions.items():
        routed[condition] = masked_flags(images, probes, condition == "masked")
        embeddings = embed(images, probes, routed[condition])
        scores_of[condition] = person_scores(embeddings, enrolled, owners, len(people), rule)
        report[condition] = idm_figures(scores_of[condition], truth)
        one = person_scores(embeddings, enrolled[first], owners[first], len(people), rule)
        report["one_photo"][condition] = idm_figures(one, truth)
    report["routed_masked"] = {condition: int(flags.sum()) for condition, flags in routed.items()}
    all_scores = np.concatenate(list(scores_of.values()))
    all_truth = np.concatenate([truth, truth])
    all_routed = np.concatenate(list(routed.values()))
    report["unknown_threshold"] = {
        kind: idm_figures(all_scores[all_routed == want], all_truth[all_routed == want])["threshold_at_far_1.0%"]
        for kind, want in (("bare", False), ("masked", True))
        if (all_routed == want).any()
    }
    return report


def export_idm(out_dir: str | Path, lfw_dir: str | Path = DEFAULT_LFW, detector: str | Detector = "auto") -> Path:
    """Write the masked probes as PNGs and ``manifest.json`` for tools outside this environment.

    The manifest names the LFW folder, the fallback square's side, the
    gallery and the probes (file name, person, seed, style, the masked image
    relative to ``out_dir``, whether a face was detected). Returns the
    manifest's path.
    """
    out = Path(out_dir)
    (out / "masked").mkdir(parents=True, exist_ok=True)
    gallery, probes = idm_split(lfw_dir)
    faces = locate_faces(probes, lfw_dir, detector)
    rows = []
    for i, item in enumerate(tqdm(probes, desc="writing masked probes", unit="img")):
        face = faces[item.file_name]
        masked = f"masked/{i:04d}.png"
        Image.fromarray(masked_probe(face, item)).save(out / masked)
        rows.append({**asdict(item), "masked": masked, "detected": face.detected})
    manifest = {
        "protocol": "ID-M",
        "lfw_dir": str(Path(lfw_dir).resolve()),
        "fallback_side": FALLBACK_SIDE,
        "gallery": [{"file_name": item.file_name, "person": item.person} for item in gallery],
        "probes": rows,
    }
    path = out / "manifest.json"
    path.write_text(json.dumps(manifest, indent=1) + "\n")
    log.info("wrote %d masked probes and %s", len(rows), path)
    return path
