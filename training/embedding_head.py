"""Fitting a gender model's embedding head (:mod:`maskface.embedding_head`): gender read from the identity
embedding, mixed with the gender network, chosen on GENDER-R validation.

The head is a logistic regression (standardised features, the scaler folded
into its weights) on the identity model's embeddings of LFW ``split=train``
(:data:`LFW_MASKED_FRACTION` of them with a simulated mask, embedded by the
masked network) and of the GENDER-R train part (faces as ``predict`` finds
them, each embedded by the network the mask model picks), each LFW person
counting at most 3 photos, each source and each gender half. Its strength
``C`` and the network's share ``mix`` are chosen together on GENDER-R
validation (mean of masked and bare balanced accuracy, each choice with its
calibration refitted there, as ``calibrate`` fits it); the network alone
(``mix`` 1) is scored beside them and wins when no head beats it.

    python -m training embedding-head --model models/gender-mobilenetv2 [--identity identity-dlib-resnet] [--write]
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import replace
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from maskface.analyzer import DEFAULT_IDENTITY_MODEL, DEFAULT_MODELS, Analyzer
from maskface.crops import crop_face
from maskface.embedding_head import with_head
from maskface.face import Face
from maskface.gallery import ModelEmbedder
from maskface.image import load_image
from maskface.labelset import DEFAULT_DATASET, DEFAULT_ROOT
from maskface.masksim import STYLES, simulate_mask
from maskface.store import StoredModel, load_model

from .candidates import balanced_weights, lfw_rows
from .data import FaceCache
from .gender_r import (
    PROTOCOL,
    by_condition,
    calibrate_on_validation,
    female_probability,
    gender_analyzer,
    matched_faces,
    rows_of,
)
from .protocols import DEFAULT_LFW

log = logging.getLogger(__name__)

C_VALUES = (0.01, 0.1, 1.0)
#: The network's share of the mixed logit; 1.0 (the network alone) is always scored beside them.
MIXES = (0.0, 0.25, 0.5, 0.75)
LFW_MASKED_FRACTION = 0.6
SEED = 1234
CACHE_DIR = Path(".cache/maskface")
LABEL = "female"


def lfw_embeddings(embedder: ModelEmbedder, lfw: Path, cache_dir: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Embeddings of LFW's training photos' central faces (a seeded share masked), whether each is female,
    and each one's person."""
    rows = lfw_rows(lfw)
    faces = FaceCache(cache_dir)
    rng = np.random.default_rng(SEED)
    out, crops, masked = [], [], []
    for i, row in enumerate(tqdm(rows, desc="LFW train embeddings", unit="img")):
        pixels = load_image(lfw / row["file_name"])
        face = faces.locate(pixels, str(lfw / row["file_name"]))
        masked.append(rng.random() < LFW_MASKED_FRACTION)
        if masked[-1]:
            pixels = simulate_mask(pixels, face.keypoints, face.box, style=str(rng.choice(STYLES)), rng=SEED + i)
        crops.append(crop_face(pixels, face.box, embedder.crop, face.keypoints))
        if len(crops) == 256 or i == len(rows) - 1:
            out.append(embedder.embed(np.stack(crops), np.array(masked)))
            crops, masked = [], []
    faces.save()
    return np.concatenate(out), np.array([r["gender"] == "female" for r in rows]), np.array([r["identity"] for r in rows])


def real_faces(analyzer: Analyzer, rows: list[dict], root: Path) -> tuple[list[dict], list[Face]]:
    """The rows whose face ``predict`` finds again, and those faces (with their embeddings)."""
    found = [(row, face) for row, face in zip(rows, matched_faces(analyzer, rows, root)) if face is not None]
    return [row for row, _ in found], [face for _, face in found]


def training_embeddings(
    stored: StoredModel, labels: Path, root: Path, lfw: Path, cache_dir: Path
) -> dict[str, np.ndarray]:
    """The head's training set (LFW and GENDER-R train) embedded by the identity model ``stored``, computed
    once per identity model and labels file and kept in ``cache_dir``."""
    embedder = ModelEmbedder(stored)
    digest = hashlib.sha256(Path(labels, "train.jsonl").read_bytes() + embedder.model_id.encode()).hexdigest()[:16]
    path = Path(cache_dir) / f"embedding-head-{digest}.npz"
    if path.is_file():
        with np.load(path) as cached:
            return dict(cached)
    x_lfw, f_lfw, person = lfw_embeddings(embedder, lfw, Path(cache_dir))
    analyzer = Analyzer(models={"mask": DEFAULT_MODELS["mask"], "identity": stored})
    rows, faces = real_faces(analyzer, rows_of(labels, "train"), root)
    arrays = {
        "lfw_x": x_lfw, "lfw_female": f_lfw, "lfw_person": person,
        "real_x": np.stack([face.embedding for face in faces]), "real_female": np.array([row["label"] == LABEL for row in rows]),
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, **arrays)
    return arrays


def fit_head(x: np.ndarray, female: np.ndarray, weights: np.ndarray, c: float) -> dict:
    """A logistic regression's weights and bias on raw embeddings (its standardisation folded in)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    scaler = StandardScaler().fit(x)
    regression = LogisticRegression(C=c, max_iter=5000).fit(scaler.transform(x), female, sample_weight=weights / weights.mean())
    w = regression.coef_[0] / scaler.scale_
    return {"weights": [round(float(v), 7) for v in w], "bias": round(float(regression.intercept_[0] - w @ scaler.mean_), 7)}


def fit(
    stored: StoredModel,
    identity: str = DEFAULT_IDENTITY_MODEL,
    labels: Path = DEFAULT_DATASET,
    root: Path = DEFAULT_ROOT,
    lfw: Path = DEFAULT_LFW,
    cache_dir: Path = CACHE_DIR,
) -> tuple[dict, dict, dict, list[dict]]:
    """The best head for ``stored`` (empty when the network alone is best), its calibration, its GENDER-R
    validation figures, and every choice's figures."""
    identity_model = load_model(identity)
    train = training_embeddings(identity_model, labels, root, lfw, cache_dir)
    x = np.concatenate([train["lfw_x"], train["real_x"]])
    female = np.concatenate([train["lfw_female"], train["real_female"]])
    weights = np.concatenate([balanced_weights(train["lfw_female"], train["lfw_person"]), balanced_weights(train["real_female"], None)])
    raw = replace(stored, spec=replace(stored.spec, calibration={}, embedding_head={}))
    analyzer = gender_analyzer(raw, identity=identity_model)
    rows, faces = real_faces(analyzer, rows_of(labels, "validation"), root)
    x_val = np.stack([face.embedding for face in faces])
    p_val = np.array([female_probability(face) for face in faces])
    network = np.stack([p_val, 1 - p_val], axis=1)
    embedding_id = analyzer.embedder.model_id
    choices = [({}, network)]
    for c in C_VALUES:
        head = fit_head(x, female, weights, c)
        for mix in MIXES:
            spec = {"identity_model": identity, "embedding_id": embedding_id, "label": LABEL, "C": c, "mix": mix} | head
            choices.append((spec, with_head(network, [LABEL, "male"], x_val, spec)))
    table, best = [], None
    for head, probs in choices:
        calibration, after, validation = calibrate_on_validation(probs, rows)
        figs = by_condition(rows, after)
        score = (figs["masked"]["balanced_accuracy"] + figs["bare"]["balanced_accuracy"]) / 2
        auc = sum(figs[c]["roc_auc"] or 0.0 for c in ("masked", "bare")) / 2  # None: one gender only
        row = {"C": head.get("C"), "mix": head.get("mix", 1.0), "masked": figs["masked"], "bare": figs["bare"], "mean": round(score, 4)}
        table.append(row)
        log.info("C %s mix %s: masked %.4f (AUC %.4f), bare %.4f (AUC %.4f)", row["C"], row["mix"],
                 figs["masked"]["balanced_accuracy"], figs["masked"]["roc_auc"], figs["bare"]["balanced_accuracy"], figs["bare"]["roc_auc"])
        if best is None or (score, auc) > best[0]:
            best = ((score, auc), head, calibration, validation)
    _, head, calibration, validation = best
    if head:
        head |= {"fitted_on": f"LFW split=train ({len(train['lfw_x'])} faces) + {PROTOCOL} train ({len(train['real_x'])} faces); "
                 f"C and mix chosen on {PROTOCOL} validation ({len(rows)} faces)"}
    return head, calibration, validation, table
