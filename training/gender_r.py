"""The GENDER-R protocol: gender of real masked faces, labelled by people (``data/labels/gender-real``).

GENDER-M measures gender on LFW press photos with *simulated* masks; GENDER-R
measures it where users are: the real photos of ``../shared/data/mask`` (real
masks, phone and web photos, many young and East Asian faces), each face
labelled by a person looking at it (:mod:`maskface.labelset`).

- Train: the labels of ``mask/train`` (plus LFW ``split=train``), without
  ``unsure``, and without the validation part.
- Validation: :data:`VAL_FRACTION` of the ``mask/train`` *photos*, chosen by
  the digest of the file name (every face of a photo on the same side), for
  every choice made while training (best epoch, candidate, temperature).
- Test: the labels of ``mask/test``, never trained or chosen on. Figures:
  balanced accuracy (mean of female and male recall), ROC AUC (female
  positive) and expected calibration error (15 bins), for masked faces (the
  ``with_mask`` folder) and bare ones (``without_mask``) separately.

Faces are scored as ``python -m maskface predict`` scores them: the photo
goes through :meth:`maskface.Analyzer.analyze` (detector ``auto``, the
shipped mask model beside the gender model) and the labelled face is the
detection overlapping its box most (IoU >= 0.5); a face labelled on the whole
photo (``detected: false``, the detector found nothing) is scored as
``predict --assume-face`` scores it. Faces the detector no longer finds are
counted (``missed``) and left out.

    python -m training.gender_r --model models/gender-mobilenetv2 [--part test|validation] [--write]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import sys
from collections import defaultdict
from dataclasses import replace
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from maskface.analyzer import DEFAULT_MODELS, Analyzer
from maskface.calibration import calibrated, calibration_entry, expected_calibration_error, uncalibrated
from maskface.crops import CropSpec, crop_square, pad_to_square
from maskface.face import Face
from maskface.image import load_image
from maskface.labelset import DEFAULT_DATASET, DEFAULT_ROOT, LabelSet
from maskface.store import StoredModel, load_model

log = logging.getLogger(__name__)

PROTOCOL = "GENDER-R"
LABELS = ("female", "male")
VAL_FRACTION = 0.15
PARTS = ("train", "validation", "test")
CONDITIONS = {"with_mask": "masked", "without_mask": "bare"}
MATCH_IOU = 0.5


def part_of(row: dict) -> str:
    """``test`` for ``mask/test`` photos; a fixed :data:`VAL_FRACTION` of ``mask/train`` photos is ``validation``."""
    if row["split"] == "test":
        return "test"
    digest = int(hashlib.sha256(row["file"].encode()).hexdigest()[:8], 16)
    return "validation" if digest < VAL_FRACTION * 16**8 else "train"


def rows_of(labels: str | Path, part: str) -> list[dict]:
    """The labelled faces of ``part`` (a :data:`PARTS` name) given a gender; ``unsure`` ones are left out."""
    if part not in PARTS:
        raise ValueError(f"GENDER-R has the parts {', '.join(PARTS)}, not {part!r}")
    return [row for row in LabelSet.load(labels).rows if row["label"] in LABELS and part_of(row) == part]


def crop_rows(rows: list[dict], root: str | Path, crop: CropSpec) -> np.ndarray:
    """Each row's face cut from its shared photo as the analyzer cuts it: the box enlarged by ``crop.scale``
    and squared, or the whole photo padded to a square when the detector found none."""
    images = []
    for row in rows:
        pixels = load_image(Path(root) / row["file"])
        if row["detected"]:
            images.append(crop_square(pixels, tuple(row["box"]), crop.size, crop.scale))
        else:
            images.append(pad_to_square(pixels, crop.size))
    return np.stack(images) if images else np.zeros((0, crop.size, crop.size, 3), np.uint8)


def iou(a, b) -> float:
    ax, ay, aw, ah = a
    bx, by, bw, bh = b
    w = max(0.0, min(ax + aw, bx + bw) - max(ax, bx))
    h = max(0.0, min(ay + ah, by + bh) - max(ay, by))
    inter = w * h
    return inter / (aw * ah + bw * bh - inter) if inter else 0.0


def gender_analyzer(stored: StoredModel, detector: str = "auto", identity: str | StoredModel | None = None) -> Analyzer:
    """The analyzer ``predict`` builds around a gender model: the shipped mask model beside it (whose answer
    picks the identity network an embedding head reads), and ``identity`` if given."""
    models: dict = {"mask": DEFAULT_MODELS["mask"], "gender": stored}
    if identity is not None:
        models["identity"] = identity
    return Analyzer(models=models, detector=detector)


def matched_faces(analyzer: Analyzer, rows: list[dict], root: str | Path) -> list[Face | None]:
    """Each row's face as ``predict`` finds and answers it: the detection overlapping the labelled box most
    (IoU >= :data:`MATCH_IOU`; None when the detector no longer finds it), or the whole photo for a row
    labelled on it."""
    by_file: dict[str, list[int]] = defaultdict(list)
    for i, row in enumerate(rows):
        by_file[row["file"]].append(i)
    found: list[Face | None] = [None] * len(rows)
    for file, index in tqdm(sorted(by_file.items()), desc="GENDER-R photos", unit="photo"):
        pixels = load_image(Path(root) / file)
        faces = analyzer.analyze(pixels) if any(rows[i]["detected"] for i in index) else []
        for i in index:
            if not rows[i]["detected"]:
                (found[i],) = analyzer.analyze(pixels, assume_face=True)
                continue
            overlap = [iou(face.box, rows[i]["box"]) for face in faces]
            if overlap and max(overlap) >= MATCH_IOU:
                found[i] = faces[int(np.argmax(overlap))]
    return found


def female_probability(face: Face) -> float:
    """The face's gender answer as the probability of ``female``."""
    answer = face["gender"]
    return answer.score if answer.label == "female" else 1.0 - answer.score


def predict_as_cli(
    stored: StoredModel, rows: list[dict], root: str | Path, detector: str = "auto", calibrate: bool = True
) -> tuple[np.ndarray, list[int]]:
    """Female probabilities of ``rows``' faces as ``predict`` gives them (calibrated as the model ships, or
    raw with ``calibrate=False``), and the indices of the rows whose face the detector did not find this
    time (their probability is NaN)."""
    if not calibrate:
        stored = replace(stored, spec=replace(stored.spec, calibration={}))
    faces = matched_faces(gender_analyzer(stored, detector), rows, root)
    probs = np.array([np.nan if face is None else female_probability(face) for face in faces])
    return probs, [i for i, face in enumerate(faces) if face is None]


def figures(truth_female: np.ndarray, female_prob: np.ndarray) -> dict:
    """Balanced accuracy, accuracy, recalls, ROC AUC (female positive), ECE and the confusion matrix."""
    from sklearn.metrics import roc_auc_score

    truth = np.asarray(truth_female, dtype=bool)
    p = np.asarray(female_prob, dtype=np.float64)
    said_female = p >= 0.5
    recall_f = float(said_female[truth].mean()) if truth.any() else float("nan")
    recall_m = float((~said_female[~truth]).mean()) if (~truth).any() else float("nan")
    labels = np.where(truth, 0, 1)
    two = np.stack([p, 1 - p], axis=1)
    return {
        "n": int(len(truth)),
        "female": int(truth.sum()),
        "male": int((~truth).sum()),
        "accuracy": round(float((said_female == truth).mean()), 4),
        "balanced_accuracy": round((recall_f + recall_m) / 2, 4),
        "female_recall": round(recall_f, 4),
        "male_recall": round(recall_m, 4),
        "roc_auc": round(float(roc_auc_score(truth, p)), 4) if 0 < truth.sum() < len(truth) else None,
        "ece": expected_calibration_error(two, labels),
        "confusion_matrix": [
            [int((truth & said_female).sum()), int((truth & ~said_female).sum())],
            [int((~truth & said_female).sum()), int((~truth & ~said_female).sum())],
        ],
    }


def by_condition(rows: list[dict], female_prob: np.ndarray) -> dict:
    """:func:`figures` for masked and bare faces separately (rows whose probability is NaN left out)."""
    report = {}
    for folder, condition in CONDITIONS.items():
        index = [i for i, row in enumerate(rows) if row["mask_folder"] == folder and not np.isnan(female_prob[i])]
        if index:
            truth = np.array([rows[i]["label"] == "female" for i in index])
            report[condition] = figures(truth, female_prob[index])
    return report


def evaluate(
    stored: StoredModel, labels: str | Path = DEFAULT_DATASET, root: str | Path = DEFAULT_ROOT, part: str = "test"
) -> dict:
    """GENDER-R figures of a gender model on ``part``: masked and bare, with and without its calibration."""
    rows = rows_of(labels, part)
    if not rows:
        raise ValueError(f"no {part} labels in {labels}")
    calibration = stored.spec.calibration
    shipped, missed = predict_as_cli(stored, rows, root)
    # the uncalibrated probabilities: the calibration undone (it is invertible); labels are (female, male)
    two = np.stack([shipped, 1 - shipped], axis=1)
    raw = uncalibrated(np.nan_to_num(two, nan=0.5), calibration)[:, 0]
    raw = np.where(np.isnan(shipped), np.nan, raw)
    report = {
        "protocol": PROTOCOL,
        "part": part,
        "labels": str(labels),
        "faces": len(rows),
        "missed_by_detector": len(missed),
        "scored_whole_photo": sum(not row["detected"] for row in rows),
        "calibration": {k: calibration[k] for k in ("temperature", "bias") if k in calibration},
    } | by_condition(rows, shipped)
    if calibration:
        report["uncalibrated"] = by_condition(rows, raw)
    return report


def recalibrate(
    stored: StoredModel, labels: str | Path = DEFAULT_DATASET, root: str | Path = DEFAULT_ROOT
) -> tuple[dict, dict]:
    """A new calibration of a saved gender model, fitted on GENDER-R validation (as training fits it): the
    spec's ``calibration`` entries, and the validation figures with it (the spec's ``GENDER-R validation``)."""
    rows = rows_of(labels, "validation")
    if not rows:
        raise ValueError(f"no validation labels in {labels}")
    raw, missed = predict_as_cli(stored, rows, root, calibrate=False)
    rows = [row for row, p in zip(rows, raw) if not np.isnan(p)]
    raw = raw[~np.isnan(raw)]
    calibration, after, validation = calibrate_on_validation(np.stack([raw, 1 - raw], axis=1), rows)
    log.info("GENDER-R validation before: %s", by_condition(rows, raw))
    log.info("GENDER-R validation after: %s", by_condition(rows, after))
    return calibration, validation


def calibrate_on_validation(probs: np.ndarray, rows: list[dict]) -> tuple[dict, np.ndarray, dict]:
    """A calibration fitted on validation answers ``probs`` (N, 2: female, male) of ``rows``: the spec's
    ``calibration`` entries, the calibrated female probabilities, and the spec's ``GENDER-R validation``."""
    truth = np.array([0 if row["label"] == "female" else 1 for row in rows])
    calibration = calibration_entry(probs, truth, f"{PROTOCOL} validation")
    after = calibrated(probs, calibration)[:, 0]
    validation = {"split": "held-out"} | {k: v for k, v in figures(truth == 0, after).items() if k != "ece"}
    return calibration, after, validation


def metrics_entries(report: dict) -> dict[str, dict]:
    """The spec's ``metrics`` entries of a GENDER-R report (``GENDER-R masked``, ``GENDER-R bare``)."""
    split = "test" if report["part"] == "test" else "validation"
    entries = {}
    for condition in CONDITIONS.values():
        if condition in report:
            figs = report[condition]
            entries[f"{PROTOCOL} {condition}"] = {"split": split} | figs | (
                {"ece_uncalibrated": report["uncalibrated"][condition]["ece"]} if "uncalibrated" in report else {}
            )
    return entries


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training.gender_r", description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", required=True, help="a gender model: shipped name, folder or hf://")
    parser.add_argument("--labels", default=str(DEFAULT_DATASET), help="the labels dataset (default: data/labels/gender-real)")
    parser.add_argument("--root", default=str(DEFAULT_ROOT), help="the shared data folder the rows name files in")
    parser.add_argument("--part", choices=("test", "validation"), default="test")
    parser.add_argument("--write", action="store_true", help="store the figures in the model's spec and card")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    stored = load_model(args.model)
    report = evaluate(stored, args.labels, args.root, args.part) | {"model": args.model}
    if args.write:
        from maskface.store import resolve, write_spec

        from .card import write_card

        folder = resolve(args.model)
        stored.spec.metrics.update(metrics_entries(report))
        write_spec(stored.spec, folder)
        write_card(folder, stored.spec)
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
