"""How face embeddings are compared with enrolled people, and how well that separates them.

One scoring rule serves the gallery (:meth:`maskface.gallery.Gallery.identify`)
and every ID-M figure (``training.protocols``, ``bench/dlib_baseline.py``), so a
measured figure is a figure of what enrolment and identification do.

This module imports numpy only and nothing from the package:
``bench/dlib_baseline.py`` runs in a separate environment (dlib, no
TensorFlow) and loads this file by path to score dlib's descriptors with the
same rule and metrics.

>>> gallery = normalise(np.array([[1.0, 0.0], [0.9, 0.2], [0.0, 1.0]]))   # two rows of person 0, one of person 1
>>> probes = normalise(np.array([[0.8, 0.3], [0.1, 1.0]]))
>>> scores = person_scores(probes, gallery, owners=[0, 0, 1], num_people=2)   # (probes, people)
>>> idm_figures(scores, truth=[0, 1])["rank1"]
1.0
"""

from __future__ import annotations

import numpy as np

#: How a person's score is made from the similarities to their enrolled embeddings:
#: ``max`` the best one, ``top2`` the mean of the best two, ``centroid`` the
#: similarity to their normalised mean embedding.
RULES: tuple[str, ...] = ("max", "top2", "centroid")
DEFAULT_RULE = "max"

#: The false accept rates verification is reported at.
FARS: tuple[float, ...] = (0.01, 0.001)


def normalise(embeddings: np.ndarray) -> np.ndarray:
    """Rows scaled to unit L2 norm, as float32; a (D,) vector is taken as one row.

    Raises ``ValueError`` for non-finite values or an all-zero row, which
    have no direction to compare.
    """
    rows = np.atleast_2d(np.asarray(embeddings, dtype=np.float64))
    if rows.ndim != 2 or rows.shape[1] == 0:
        raise ValueError(f"embeddings must be (D,) or (N, D), got shape {np.shape(embeddings)}")
    if not np.isfinite(rows).all():
        raise ValueError("embeddings contain NaN or infinite values")
    norms = np.linalg.norm(rows, axis=1, keepdims=True)
    if (norms == 0).any():
        raise ValueError("an embedding is all zeros")
    return (rows / norms).astype(np.float32)


def person_scores(
    probes: np.ndarray, gallery: np.ndarray, owners: np.ndarray, num_people: int, rule: str = DEFAULT_RULE
) -> np.ndarray:
    """Cosine score (P, num_people) of each unit-norm probe row against each person.

    ``gallery`` rows are unit-norm embeddings; ``owners[i]`` is the person
    (0 .. num_people-1) that row i belongs to. Every person needs at least one
    row. ``rule`` is one of :data:`RULES`.
    """
    if rule not in RULES:
        raise ValueError(f"unknown scoring rule {rule!r}; choose one of {', '.join(RULES)}")
    owners = np.asarray(owners)
    scores = np.empty((len(probes), num_people), dtype=np.float32)
    if num_people == 0:
        return scores
    if rule == "centroid":
        centroids = np.stack([gallery[owners == k].mean(axis=0) for k in range(num_people)])
        return probes @ normalise(centroids).T
    similarities = probes @ gallery.T
    for k in range(num_people):
        own = similarities[:, owners == k]
        scores[:, k] = own.max(axis=1) if rule == "max" else np.sort(own, axis=1)[:, -2:].mean(axis=1)
    return scores


def tar_at_far(genuine: np.ndarray, impostor: np.ndarray, far: float) -> tuple[float, float]:
    """(true accept rate, threshold) at false accept rate ``far``.

    The threshold is the lowest one at which at most ``far`` of the impostor
    scores are accepted (score >= threshold), ties included; the TAR is the
    share of genuine scores it accepts.
    """
    impostor = np.sort(np.asarray(impostor, dtype=np.float64))[::-1]
    allowed = int(np.floor(far * len(impostor)))
    threshold = -np.inf if allowed >= len(impostor) else float(np.nextafter(impostor[allowed], np.inf))
    return float(np.mean(np.asarray(genuine) >= threshold)), threshold


def idm_figures(scores: np.ndarray, truth: np.ndarray) -> dict:
    """ID-M figures of probe-vs-person ``scores`` (P, K) given each probe's person index ``truth``.

    Rank-1 accuracy: the best-scoring person is the right one. Verification:
    every probe-person pair, genuine when it is the probe's own person,
    impostor otherwise; TAR and threshold at each of :data:`FARS`.
    """
    scores = np.asarray(scores)
    truth = np.asarray(truth)
    own = np.zeros(scores.shape, dtype=bool)
    own[np.arange(len(truth)), truth] = True
    figures: dict = {
        "probes": int(len(truth)),
        "rank1": float(np.mean(scores.argmax(axis=1) == truth)),
        "genuine_pairs": int(own.sum()),
        "impostor_pairs": int((~own).sum()),
    }
    for far in FARS:
        tar, threshold = tar_at_far(scores[own], scores[~own], far)
        figures[f"tar_at_far_{far:.1%}"] = tar
        figures[f"threshold_at_far_{far:.1%}"] = threshold
    return figures
