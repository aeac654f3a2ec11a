"""dlib's face recognition on the ID-M protocol: the classic open-source baseline to beat.

dlib is not a project dependency, so this script runs in an environment of its
own and reads the masked probes that the project's environment exports:

    python3.11 -m venv /tmp/dlibenv
    /tmp/dlibenv/bin/pip install dlib-bin face-recognition-models numpy pillow
    .venv/bin/python -m training export-idm runs/idm_probes
    /tmp/dlibenv/bin/python bench/dlib_baseline.py runs/idm_probes [--rule max] [--out FILE]

Every image goes through dlib's own pipeline: the HOG face detector (image
upsampled once), the detection closest to the centre or, when HOG finds none,
the central square of the export's fallback side; the 5-point shape predictor;
the 128-D ResNet descriptor (``dlib_face_recognition_resnet_model_v1``).
Descriptors are L2-normalised and scored with ``maskface/matching.py``, loaded
by path because importing the ``maskface`` package needs TensorFlow, so the
figures are computed exactly as the project's are. Prints the JSON report.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import logging
import sys
from pathlib import Path

import dlib
import face_recognition_models
import numpy as np
from PIL import Image

MATCHING = Path(__file__).resolve().parents[1] / "maskface" / "matching.py"
MODEL = "dlib_face_recognition_resnet_model_v1"

log = logging.getLogger("dlib_baseline")


def load_matching():
    """``maskface/matching.py`` as a module, without importing the ``maskface`` package."""
    spec = importlib.util.spec_from_file_location("maskface_matching", MATCHING)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class DlibFaces:
    """dlib's detector, landmarks and descriptor; counts the images where HOG found no face."""

    def __init__(self, fallback_side: int) -> None:
        self.detector = dlib.get_frontal_face_detector()
        self.landmarks = dlib.shape_predictor(face_recognition_models.pose_predictor_five_point_model_location())
        self.encoder = dlib.face_recognition_model_v1(face_recognition_models.face_recognition_model_location())
        self.fallback_side = fallback_side
        self.fallbacks: list[str] = []

    def face(self, image: np.ndarray, name: str) -> dlib.rectangle:
        """The HOG detection closest to the image centre, else the central fallback square."""
        height, width = image.shape[:2]
        cx, cy = width / 2, height / 2
        found = self.detector(image, 1)
        if len(found):
            return min(found, key=lambda r: np.hypot((r.left() + r.right()) / 2 - cx, (r.top() + r.bottom()) / 2 - cy))
        self.fallbacks.append(name)
        left, top = (width - self.fallback_side) // 2, (height - self.fallback_side) // 2
        return dlib.rectangle(left, top, left + self.fallback_side, top + self.fallback_side)

    def describe(self, paths: list[Path], names: list[str]) -> np.ndarray:
        """The 128-D descriptors (N, 128) of the face in each image."""
        rows = []
        for i, (path, name) in enumerate(zip(paths, names)):
            image = np.asarray(Image.open(path).convert("RGB"))
            rows.append(self.encoder.compute_face_descriptor(image, self.landmarks(image, self.face(image, name))))
            if (i + 1) % 200 == 0:
                log.info("%d / %d images", i + 1, len(paths))
        return np.asarray(rows, dtype=np.float64)


def main(argv: list[str] | None = None) -> int:
    matching = load_matching()
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("probes", type=Path, help="the folder written by `python -m training export-idm`")
    parser.add_argument("--rule", choices=matching.RULES, default=matching.DEFAULT_RULE)
    parser.add_argument("--out", type=Path, help="also write the JSON report here")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)

    manifest = json.loads((args.probes / "manifest.json").read_text())
    lfw = Path(manifest["lfw_dir"])
    gallery, probes = manifest["gallery"], manifest["probes"]
    people = sorted({item["person"] for item in gallery})
    index = {person: k for k, person in enumerate(people)}
    owners = np.array([index[item["person"]] for item in gallery])
    # ID-M-1: each person enrolled from their first photo only (the manifest lists each person's photos in order)
    first = np.array([item["person"] not in {g["person"] for g in gallery[:i]} for i, item in enumerate(gallery)])
    truth = np.array([index[item["person"]] for item in probes])

    faces = DlibFaces(manifest["fallback_side"])
    enrolled = matching.normalise(
        faces.describe([lfw / item["file_name"] for item in gallery], [item["file_name"] for item in gallery])
    )
    report: dict = {
        "protocol": "ID-M",
        "model": MODEL,
        "detector": "dlib-hog",
        "people": len(people),
        "gallery_images": len(gallery),
        "probe_images": len(probes),
        "rule": args.rule,
        "one_photo": {"protocol": "ID-M-1", "gallery_images": int(first.sum())},
    }
    fallbacks = {"gallery": len(faces.fallbacks)}
    conditions = {
        "masked": [args.probes / item["masked"] for item in probes],
        "unmasked": [lfw / item["file_name"] for item in probes],
    }
    for condition, paths in conditions.items():
        before = len(faces.fallbacks)
        descriptors = matching.normalise(faces.describe(paths, [item["file_name"] for item in probes]))
        fallbacks[condition] = len(faces.fallbacks) - before
        scores = matching.person_scores(descriptors, enrolled, owners, len(people), args.rule)
        report[condition] = matching.idm_figures(scores, truth)
        one = matching.person_scores(descriptors, enrolled[first], owners[first], len(people), args.rule)
        report["one_photo"][condition] = matching.idm_figures(one, truth)
    report["detector_fallbacks"] = fallbacks
    report["unknown_threshold"] = report["masked"]["threshold_at_far_1.0%"]
    text = json.dumps(report, indent=2)
    if args.out:
        args.out.write_text(text + "\n")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
