"""A second opinion from the identity embedding: a linear read-out of a two-label answer from an identity
model's embedding, mixed with the classifier network's own answer.

Why: the identity network (dlib's ResNet, trained on millions of faces, then
taught to put a masked face where its bare face lies) encodes gender in its
128 numbers, and a logistic regression on them generalises to real photos
as well as our gender network trained on LFW and 3,000 real faces; the two
err on different faces, so their logits mixed beat either alone on GENDER-R
validation (README, "Gender"). It costs one identity embedding per face,
which recognition computes anyway.

A model's head is kept in its spec (``embedding_head``)::

    {"identity_model": "identity-dlib-resnet", "embedding_id": "...", "label": "female",
     "weights": [128 floats], "bias": b, "mix": 0.5, ...}

The answer is ``mix * network logit + (1 - mix) * (weights . embedding + bias)``,
the logit of ``label`` against the other label, before the model's
calibration (which is fitted on the mixed answer).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from .calibration import EPS


def head_logit(embeddings: np.ndarray, head: Mapping) -> np.ndarray:
    """The head's logit of ``head["label"]`` for each embedding (N, D)."""
    return np.asarray(embeddings, np.float64) @ np.asarray(head["weights"], np.float64) + float(head["bias"])


def with_head(probs: np.ndarray, labels: Sequence[str], embeddings: np.ndarray, head: Mapping) -> np.ndarray:
    """``probs`` (N, 2) of a two-label network mixed with the head's answer on the same faces' ``embeddings``."""
    if len(labels) != 2:
        raise ValueError(f"an embedding head mixes two-label answers, not {len(labels)} labels")
    probs = np.clip(np.asarray(probs, np.float64), EPS, 1.0)
    first = list(labels).index(head["label"])
    network = np.log(probs[:, first]) - np.log(probs[:, 1 - first])
    mixed = float(head["mix"]) * network + (1.0 - float(head["mix"])) * head_logit(embeddings, head)
    out = np.empty_like(probs)
    out[:, first] = 1.0 / (1.0 + np.exp(-mixed))
    out[:, 1 - first] = 1.0 - out[:, first]
    return out.astype(np.float32)
