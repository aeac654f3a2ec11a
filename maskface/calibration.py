"""Calibrated confidence: temperature scaling of a classifier's probabilities, and how well calibrated they are.

A model trained on press photos says 100% about faces it gets wrong. Temperature
scaling (Guo et al., 2017) divides the logits by one number T fitted on
validation data (T > 1 softens, T < 1 sharpens); the label a model picks never
changes, only how sure it says it is. The softmax outputs' logarithms are the
logits up to a constant, so T applies to stored probabilities directly. A
model's T is kept in its spec (``calibration.temperature``) and applied by
:class:`maskface.analyzer.Analyzer` to every answer.

Expected calibration error (ECE): faces binned by the confidence of the
predicted label (15 equal bins over [0, 1]), the bins' |accuracy - mean
confidence| weighted by their share of faces.
"""

from __future__ import annotations

import numpy as np

ECE_BINS = 15
#: Probabilities are clipped away from 0 before their logarithm (float32 softmax saturates).
EPS = 1e-12


def apply_temperature(probs: np.ndarray, temperature: float) -> np.ndarray:
    """``probs`` (N, C) as the model would give them with its logits divided by ``temperature``."""
    probs = np.asarray(probs, dtype=np.float64)
    if temperature == 1.0 or len(probs) == 0:
        return probs.astype(np.float32)
    logits = np.log(np.clip(probs, EPS, 1.0)) / temperature
    logits -= logits.max(axis=1, keepdims=True)
    scaled = np.exp(logits)
    return (scaled / scaled.sum(axis=1, keepdims=True)).astype(np.float32)


def nll(probs: np.ndarray, labels: np.ndarray) -> float:
    """Mean negative log-likelihood of the true labels."""
    picked = np.asarray(probs, dtype=np.float64)[np.arange(len(labels)), labels]
    return float(-np.log(np.clip(picked, EPS, 1.0)).mean())


def fit_temperature(probs: np.ndarray, labels: np.ndarray) -> float:
    """The temperature (between 0.05 and 20) minimising the negative log-likelihood of ``labels``."""
    from scipy.optimize import minimize_scalar  # the training stack's: the core package only applies T

    labels = np.asarray(labels, dtype=int)
    if len(labels) == 0:
        raise ValueError("fitting a temperature needs labelled examples")
    found = minimize_scalar(
        lambda log_t: nll(apply_temperature(probs, float(np.exp(log_t))), labels),
        bounds=(np.log(0.05), np.log(20.0)),
        method="bounded",
    )
    return round(float(np.exp(found.x)), 4)


def expected_calibration_error(probs: np.ndarray, labels: np.ndarray, bins: int = ECE_BINS) -> float:
    """ECE of the predicted labels' confidences over ``bins`` equal-width bins of [0, 1]."""
    probs = np.asarray(probs, dtype=np.float64)
    labels = np.asarray(labels, dtype=int)
    if len(labels) == 0:
        raise ValueError("ECE needs labelled examples")
    confidence = probs.max(axis=1)
    correct = probs.argmax(axis=1) == labels
    which = np.clip(np.ceil(confidence * bins).astype(int) - 1, 0, bins - 1)
    total = 0.0
    for b in range(bins):
        inside = which == b
        if inside.any():
            total += inside.mean() * abs(correct[inside].mean() - confidence[inside].mean())
    return round(float(total), 4)
