"""Calibrated confidence: bias-corrected temperature scaling of a classifier's probabilities, and how well
calibrated they are.

A model trained on press photos says 100% about faces it gets wrong, and one
trained on more men than women leans to "male" on photos unlike its training
data. Bias-corrected temperature scaling (Guo et al., 2017; Alexandari et al.,
2020) divides the logits by one number T and adds one offset per class, all
fitted by likelihood on validation data: T > 1 softens, T < 1 sharpens, and
the offsets undo a lean the model learned, so an answer near the boundary can
change (the offsets also carry the validation data's class balance; fit them
on data like the users'). The softmax outputs' logarithms are the logits up to
a constant, so the calibration applies to stored probabilities directly. A
model's calibration is kept in its spec (``calibration.temperature``,
``calibration.bias``, one offset per label) and applied by
:class:`maskface.analyzer.Analyzer` to every answer.

Expected calibration error (ECE): faces binned by the confidence of the
predicted label (15 equal bins over [0, 1]), the bins' |accuracy - mean
confidence| weighted by their share of faces.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

ECE_BINS = 15
#: Probabilities are clipped away from 0 before their logarithm (float32 softmax saturates).
EPS = 1e-12
#: Where the fitted temperature and offsets may lie.
TEMPERATURE_RANGE = (0.05, 20.0)
BIAS_RANGE = (-10.0, 10.0)


def apply_calibration(probs: np.ndarray, temperature: float = 1.0, bias: Sequence[float] | None = None) -> np.ndarray:
    """``probs`` (N, C) as the model would give them with its logits divided by ``temperature`` and
    ``bias`` (C,) added."""
    probs = np.asarray(probs, dtype=np.float64)
    if (temperature == 1.0 and not np.any(bias)) or len(probs) == 0:
        return probs.astype(np.float32)
    return _calibrated64(probs, temperature, bias).astype(np.float32)


def _calibrated64(probs: np.ndarray, temperature: float, bias: np.ndarray | Sequence[float] | None) -> np.ndarray:
    """:func:`apply_calibration` in float64 (the fit's numerical gradients need it)."""
    logits = np.log(np.clip(probs, EPS, 1.0)) / temperature
    if bias is not None:
        logits = logits + np.asarray(bias, dtype=np.float64)
    logits -= logits.max(axis=1, keepdims=True)
    scaled = np.exp(logits)
    return scaled / scaled.sum(axis=1, keepdims=True)


def calibrated(probs: np.ndarray, calibration: Mapping) -> np.ndarray:
    """``probs`` with a model spec's ``calibration`` (empty: unchanged) applied."""
    return apply_calibration(probs, calibration.get("temperature", 1.0), calibration.get("bias"))


def uncalibrated(probs: np.ndarray, calibration: Mapping) -> np.ndarray:
    """The model's own probabilities behind ``calibrated(raw, calibration)``: the calibration is invertible
    (logits scaled back by T after the offsets are taken off)."""
    t = float(calibration.get("temperature", 1.0))
    bias = calibration.get("bias")
    return apply_calibration(probs, 1.0 / t, None if bias is None else -t * np.asarray(bias, dtype=np.float64))


def nll(probs: np.ndarray, labels: np.ndarray) -> float:
    """Mean negative log-likelihood of the true labels."""
    picked = np.asarray(probs, dtype=np.float64)[np.arange(len(labels)), labels]
    return float(-np.log(np.clip(picked, EPS, 1.0)).mean())


def fit_calibration(probs: np.ndarray, labels: np.ndarray, bias: bool = True) -> dict:
    """The temperature (and with ``bias`` one offset per class, the last class's 0) minimising the negative
    log-likelihood of ``labels``: ``{"temperature": T, "bias": [...]}``, a spec's ``calibration`` entries."""
    from scipy.optimize import minimize  # the training stack's: the core package only applies a calibration

    probs = np.asarray(probs, dtype=np.float64)
    labels = np.asarray(labels, dtype=int)
    if len(labels) == 0:
        raise ValueError("fitting a calibration needs labelled examples")
    classes = probs.shape[1]
    free = classes - 1 if bias else 0  # the offsets are relative: the last class's stays 0

    def unpack(x: np.ndarray) -> tuple[float, np.ndarray | None]:
        return float(np.exp(x[0])), (np.append(x[1:], 0.0) if free else None)

    def loss(x: np.ndarray) -> float:
        t, b = unpack(x)
        return nll(_calibrated64(probs, t, b), labels)

    bounds = [tuple(np.log(TEMPERATURE_RANGE))] + [BIAS_RANGE] * free
    found = minimize(loss, np.zeros(1 + free), method="L-BFGS-B", bounds=bounds)
    t, b = unpack(found.x)
    return {"temperature": round(t, 4)} | ({"bias": [round(float(v), 4) for v in b]} if b is not None else {})


def calibration_entry(probs: np.ndarray, labels: np.ndarray, fitted_on: str) -> dict:
    """A spec's ``calibration``: :func:`fit_calibration` on ``probs``, what it was fitted on, ECE before and after."""
    fitted = fit_calibration(probs, labels)
    return fitted | {
        "fitted_on": fitted_on,
        "faces": len(labels),
        "ece_before": expected_calibration_error(probs, labels),
        "ece_after": expected_calibration_error(calibrated(probs, fitted), labels),
    }


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
