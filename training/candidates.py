"""Choosing how to retrain the gender models, cheaply: linear heads on cached features, scored on GENDER-R validation.

Fine-tuning a MobileNetV2 costs an hour of this 2-core CPU per run; a
logistic-regression head on features computed once costs seconds. So the
candidates of issue 15 are compared here, each a head fitted on frozen
features of a different training set, and only the winner is fine-tuned
(``python -m training train``):

- data: LFW ``split=train`` alone, or with the GENDER-R training labels;
- framing: LFW faces as the detector frames them, or half of them cut close
  around the face, grey outside, as real photos often are (``tight``);
- mask styles: the protocols' four, or also the training-only ones (``styles``);
- balance: every image alike, or weighted so that each person of LFW counts
  at most as 3 photos, each source (LFW, real) half and each gender half;
- features: the shipped gender model's (its 1280 pooled features), ImageNet
  MobileNetV2's (no face training: is the gender model's trunk worth starting
  from?), or the identity model's embedding (these two on the base variant only) (a masked face mapped to its bare face's
  descriptor), or both.

Every choice is scored on GENDER-R validation (never on a test split):
balanced accuracy of masked and bare faces; LFW validation (a tenth of LFW
``split=train`` people) with simulated masks guards GENDER-M.

    python -m training.candidates features [--faces FILE.jsonl]   # cache features (runs/candidates/)
    python -m training.candidates screen                          # -> runs/candidates/screen.json
    python -m training.candidates head --out runs/gender-face-head  # the winner's head as a model
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import logging
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from maskface.crops import CropSpec, crop_square
from maskface.image import load_image
from maskface.labelset import DEFAULT_DATASET, DEFAULT_ROOT, LabelSet, face_key, read_rows
from maskface.masksim import STYLES, TRAINING_STYLES, simulate_mask
from maskface.store import load_model

from .architectures import FACE_TRUNK
from .data import FaceCache, cut_tight
from .gender_r import crop_rows, part_of
from .protocols import DEFAULT_LFW

log = logging.getLogger(__name__)

OUT = Path("runs/candidates")
CACHE_DIR = Path(".cache/maskface")
EXTRACTORS = {"gender": "gender-mobilenetv2", "identity": "identity-mobilenetv2", "imagenet": None}
#: How LFW training faces are made for each variant: share masked, mask styles, share cut close.
LFW_VARIANTS = {
    "base": (0.6, STYLES, 0.0),
    "tight": (0.6, STYLES, 0.5),
    "styles": (0.6, STYLES + TRAINING_STYLES, 0.0),
}
LFW_VAL_FRACTION = 0.1
PERSON_CAP = 3
SEED = 1234


def lfw_val_person(person: str) -> bool:
    """LFW validation: a fixed tenth of the ``split=train`` people, by the digest of the name."""
    return int(hashlib.sha256(person.encode()).hexdigest()[:8], 16) < LFW_VAL_FRACTION * 16**8


def feature_model(name: str | None):
    """The shipped model's features: the gender model's pooled features (before its head), the identity embedding;
    None: ImageNet MobileNetV2's pooled features (no face training), at the gender model's crop."""
    import keras

    if name is None:
        from .architectures import build_model, default_backbone_weights

        model = build_model("mobilenetv2", 2, 160, weights=default_backbone_weights("mobilenetv2"))
        return keras.Model(model.inputs, model.get_layer("probs").input), CropSpec(160, 1.2)
    stored = load_model(name)
    model = stored.model
    if stored.spec.task != "identity":
        model = keras.Model(model.inputs, model.get_layer("probs").input)
    return model, stored.spec.crop


def features(model, crops: np.ndarray, batch: int = 64) -> np.ndarray:
    from maskface.inference import predictor_for

    run = predictor_for(model)
    return np.concatenate([run(crops[i : i + batch].astype(np.float32)) for i in range(0, len(crops), batch)])


def lfw_rows(lfw: Path) -> list[dict]:
    with open(lfw / "metadata.csv", newline="") as f:
        return [r for r in csv.DictReader(f) if r["split"] == "train" and r["gender"] in ("female", "male")]


def lfw_crops(rows: list[dict], lfw: Path, faces: FaceCache, crop: CropSpec, variant: str) -> np.ndarray:
    """LFW training faces framed as :class:`training.data.DetectFraming` frames them, per ``variant``."""
    masked_fraction, styles, tight = LFW_VARIANTS[variant]
    rng = np.random.default_rng(SEED)
    out = np.zeros((len(rows), crop.size, crop.size, 3), np.uint8)
    for i, row in enumerate(tqdm(rows, desc=f"LFW {variant} {crop.size}px", unit="img")):
        pixels = load_image(lfw / row["file_name"])
        face = faces.locate(pixels, str(lfw / row["file_name"]))
        box, keypoints = face.box, face.keypoints
        if rng.random() < masked_fraction:
            pixels = simulate_mask(pixels, keypoints, box, style=str(rng.choice(styles)), rng=SEED + i)
        if tight and rng.random() < tight:
            pixels = cut_tight(pixels, box, rng)
        out[i] = crop_square(pixels, box, crop.size, crop.scale)
    return out


def cache_features(faces_file: Path | None, lfw: Path, root: Path, cache_dir: Path = CACHE_DIR) -> None:
    """Features of every real face (of ``faces_file`` or the labels dataset) and of each LFW variant, cached."""
    OUT.mkdir(parents=True, exist_ok=True)
    real = read_rows_any(faces_file) if faces_file else LabelSet.load(DEFAULT_DATASET).rows
    rows = lfw_rows(lfw)
    located = FaceCache(cache_dir)
    for kind, name in EXTRACTORS.items():
        model, crop = feature_model(name)
        path = OUT / f"real-{kind}.npz"
        keys = [key_text(row) for row in real]
        have = dict(np.load(path)) if path.is_file() else {"keys": np.array([], str), "x": np.zeros((0, 1))}
        todo = [row for row, key in zip(real, keys) if key not in set(have["keys"])]
        if todo:
            x = features(model, crop_rows(todo, root, crop))
            keys_all = np.concatenate([have["keys"], [key_text(row) for row in todo]])
            x_all = np.concatenate([have["x"], x]) if len(have["keys"]) else x
            np.savez(path, keys=keys_all, x=x_all)
            log.info("%s features of %d more real faces", kind, len(todo))
        for variant in LFW_VARIANTS if kind == "gender" else ["base"]:
            path = OUT / f"lfw-{variant}-{kind}.npz"
            if path.is_file():
                continue
            x = features(model, lfw_crops(rows, lfw, located, crop, variant))
            located.save()
            np.savez(path, x=x, gender=np.array([r["gender"] for r in rows]), person=np.array([r["identity"] for r in rows]))
            log.info("cached %s", path)


def read_rows_any(path: Path) -> list[dict]:
    """Faces of a JSON-lines file: labelled rows, or unlabelled ones (``file``, ``box``, ``detected``)."""
    rows, errors = read_rows(path)
    if rows:
        return rows
    return [json.loads(line) for line in Path(path).read_text().splitlines() if line.strip()]


def key_text(row: dict) -> str:
    file, box = face_key(row)
    return f"{file}|{','.join(map(str, box))}"


#: Each candidate: (features, LFW variant, with the real training faces, balanced weights).
CANDIDATES = {
    "gender features, LFW only": ("gender", "base", False, False),
    "gender features, LFW + real": ("gender", "base", True, False),
    "+ tight framing": ("gender", "tight", True, False),
    "+ more mask styles": ("gender", "styles", True, False),
    "+ balance by person, source and class": ("gender", "base", True, True),
    "identity embedding, LFW + real": ("identity", "base", True, False),
    "identity embedding, balanced": ("identity", "base", True, True),
    "gender + identity features, balanced": ("gender+identity", "base", True, True),
    "ImageNet features, LFW + real, balanced": ("imagenet", "base", True, True),
}
C_VALUES = (0.01, 0.1, 1.0)


@dataclass
class Faces:
    """The labelled ``mask/train`` faces (GENDER-R's train and validation parts) and LFW's training faces."""

    rows: list[dict]
    parts: np.ndarray
    female: np.ndarray
    masked: np.ndarray

    @classmethod
    def load(cls, labels: Path) -> Faces:
        rows = [r for r in LabelSet.load(labels).rows if r["label"] in ("female", "male") and r["split"] == "train"]
        return cls(
            rows,
            np.array([part_of(r) for r in rows]),
            np.array([r["label"] == "female" for r in rows]),
            np.array([r["mask_folder"] == "with_mask" for r in rows]),
        )

    def real(self, kinds: list[str]) -> np.ndarray:
        """The cached features of these faces."""
        columns = []
        for kind in kinds:
            cached = np.load(OUT / f"real-{kind}.npz")
            index = {k: i for i, k in enumerate(cached["keys"])}
            columns.append(cached["x"][[index[key_text(row)] for row in self.rows]])
        return np.concatenate(columns, axis=1)


def lfw_features(variant: str, kinds: list[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Cached features of LFW's training faces (one variant), whether each is female, and each one's person."""
    cached = [np.load(OUT / f"lfw-{variant}-{kind}.npz") for kind in kinds]
    return np.concatenate([c["x"] for c in cached], axis=1), cached[0]["gender"] == "female", cached[0]["person"]


def balanced_weights(female: np.ndarray, person: np.ndarray | None) -> np.ndarray:
    """Sample weights: each person at most :data:`PERSON_CAP` photos' worth, then each gender half the total."""
    w = np.ones(len(female))
    if person is not None:
        _, inverse, counts = np.unique(person, return_inverse=True, return_counts=True)
        w = np.minimum(1.0, PERSON_CAP / counts[inverse])
    for cls in (True, False):
        w[female == cls] *= 0.5 / w[female == cls].sum()
    return w


def score(female: np.ndarray, prob: np.ndarray) -> dict:
    from sklearn.metrics import roc_auc_score

    said = prob >= 0.5
    recalls = [float(said[female].mean()), float((~said[~female]).mean())]
    return {"balanced_accuracy": round(float(np.mean(recalls)), 4), "roc_auc": round(float(roc_auc_score(female, prob)), 4)}


def fit_candidate(faces: Faces, name: str) -> tuple[dict, object, object]:
    """Fit candidate ``name``'s head for each C; return the best one's figures (by the mean of masked and bare
    balanced accuracy on GENDER-R validation), its scaler and its logistic regression."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    kind, variant, with_real, weighted = CANDIDATES[name]
    kinds = kind.split("+")
    x_lfw, f_lfw, person = lfw_features(variant, kinds)
    x_real = faces.real(kinds)
    val_person = np.array([lfw_val_person(p) for p in person])
    x_train, y_train = x_lfw[~val_person], f_lfw[~val_person]
    w = balanced_weights(y_train, person[~val_person]) if weighted else np.ones(len(y_train))
    train, val = faces.parts == "train", faces.parts == "validation"
    if with_real:
        x_train = np.concatenate([x_train, x_real[train]])
        y_train = np.concatenate([y_train, faces.female[train]])
        w = np.concatenate([w, balanced_weights(faces.female[train], None) if weighted else np.ones(int(train.sum()))])
    scaler = StandardScaler().fit(x_train)
    best = None
    for c in C_VALUES:
        head = LogisticRegression(C=c, max_iter=3000).fit(scaler.transform(x_train), y_train, sample_weight=w / w.mean())
        prob = head.predict_proba(scaler.transform(x_real))[:, 1]
        figs = {
            "masked": score(faces.female[val & faces.masked], prob[val & faces.masked]),
            "bare": score(faces.female[val & ~faces.masked], prob[val & ~faces.masked]),
            "LFW validation masked": score(f_lfw[val_person], head.predict_proba(scaler.transform(x_lfw[val_person]))[:, 1]),
            "C": c,
        }
        mean = (figs["masked"]["balanced_accuracy"] + figs["bare"]["balanced_accuracy"]) / 2
        if best is None or mean > best[0]:
            best = (mean, figs, scaler, head)
    return best[1], best[2], best[3]


def screen(labels: Path = DEFAULT_DATASET, only: str | None = None) -> dict:
    """Fit every candidate's head and score it on GENDER-R validation and LFW validation (masked)."""
    faces = Faces.load(labels)
    report: dict = {"protocol": "GENDER-R validation", "faces": {p: int((faces.parts == p).sum()) for p in ("train", "validation")}}
    for name in CANDIDATES:
        if only and only not in name:
            continue
        report[name] = fit_candidate(faces, name)[0]
        log.info("%s: %s", name, report[name])
    return report


def export_head(
    out: Path, labels: Path = DEFAULT_DATASET, trunk: str = FACE_TRUNK, name: str = "identity embedding, LFW + real"
) -> Path:
    """The identity-embedding candidate as a model: ``mobilenetv2-face`` on ``trunk``'s embedding, whose BatchNorm
    standardises it as the fitted scaler does and whose head is the logistic regression; calibrated on GENDER-R
    validation."""
    from maskface.calibration import calibration_entry
    from maskface.store import ModelSpec, save_model

    from .architectures import build_model

    if CANDIDATES[name][0] != "identity":
        raise ValueError(f"only an identity-embedding candidate becomes a mobilenetv2-face model, not {name!r}")
    faces = Faces.load(labels)
    figs, scaler, head = fit_candidate(faces, name)
    model = build_model("mobilenetv2-face", 2, 112, weights=trunk)
    norm = model.get_layer("embedding_norm")
    norm.set_weights([np.ones(128), np.zeros(128), scaler.mean_, scaler.var_ - norm.epsilon])
    kernel = np.zeros((128, 2), np.float32)
    kernel[:, 0] = head.coef_[0]  # labels (female, male): female's logit is the regression's, male's 0
    model.get_layer("probs").set_weights([kernel, np.array([head.intercept_[0], 0.0], np.float32)])
    val = faces.parts == "validation"
    z = scaler.transform(faces.real(["identity"])[val])
    p_female = head.predict_proba(z)[:, 1]
    probs, truth = np.stack([p_female, 1 - p_female], axis=1), np.where(faces.female[val], 0, 1)
    calibration = calibration_entry(probs, truth, "GENDER-R validation")
    training = {
        "how": f"python -m training.candidates head --out {out}: logistic regression (C {figs['C']}) on the cached "
        f"embedding of {trunk} (frozen), candidate {name!r}",
        "data": "LFW split=train minus a tenth of its people (base variant: 60% with a simulated mask) + GENDER-R train part",
        "labels_data": {"source": str(labels), "protocol": "GENDER-R", "train": int((faces.parts == "train").sum()),
                        "held_out": int(val.sum())},
        "GENDER-R validation": figs,
    }
    spec = ModelSpec("gender", "mobilenetv2-face", ["female", "male"], CropSpec(112, 1.2), training=training,
                     calibration=calibration)
    return save_model(model, spec, out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training.candidates", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    f = sub.add_parser("features", help="cache the features of the real faces and of each LFW variant")
    f.add_argument("--faces", type=Path, help="JSON-lines faces (default: the labels dataset's rows)")
    f.add_argument("--lfw", type=Path, default=DEFAULT_LFW)
    f.add_argument("--root", type=Path, default=DEFAULT_ROOT)
    h = sub.add_parser("head", help="save the identity-embedding candidate's head as a mobilenetv2-face model")
    h.add_argument("--out", type=Path, required=True)
    h.add_argument("--labels", type=Path, default=DEFAULT_DATASET)
    h.add_argument("--trunk", default=FACE_TRUNK, help=f"the identity model whose embedding the features were "
                   f"cached from (default: {FACE_TRUNK}; a shipped name, folder or hf://)")
    s = sub.add_parser("screen", help="score every candidate on GENDER-R validation")
    s.add_argument("--labels", type=Path, default=DEFAULT_DATASET)
    s.add_argument("--only", help="screen only the candidates whose name contains this")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s", datefmt="%H:%M:%S")
    if args.command == "features":
        cache_features(args.faces, args.lfw, args.root)
        return 0
    if args.command == "head":
        print(export_head(args.out, args.labels, args.trunk))
        return 0
    report = screen(args.labels, args.only)
    (OUT / ("screen.json" if not args.only else f"screen-{args.only.replace(' ', '_')}.json")).write_text(
        json.dumps(report, indent=1) + "\n"
    )
    print(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
