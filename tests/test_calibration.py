"""Bias-corrected temperature scaling and expected calibration error."""

import numpy as np
import pytest

from maskface.calibration import (
    apply_calibration,
    calibrated,
    expected_calibration_error,
    fit_calibration,
    uncalibrated,
)


def overconfident(n: int = 4000, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Binary probabilities of a model that is right 80% of the time and says 99%."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 2, n)
    right = rng.random(n) < 0.8
    said = np.where(right, labels, 1 - labels)
    p = np.where(said == 0, 0.99, 0.01)
    return np.stack([p, 1 - p], axis=1), labels


def leaning(n: int = 4000, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A model whose class-0 logit would be right (class 0 drawn with its sigmoid) but is shifted by -2, as if
    trained where class 1 was commoner: many class-0 faces come out as class 1."""
    rng = np.random.default_rng(seed)
    true_logit0 = rng.normal(0, 3, n)
    labels = np.where(rng.random(n) < 1 / (1 + np.exp(-true_logit0)), 0, 1)
    p = 1 / (1 + np.exp(-(true_logit0 - 2.0)))
    return np.stack([p, 1 - p], axis=1), labels


def balanced_accuracy(probs: np.ndarray, labels: np.ndarray) -> float:
    said = probs.argmax(1)
    return float(np.mean([(said[labels == c] == c).mean() for c in (0, 1)]))


def test_a_fitted_temperature_removes_overconfidence_without_changing_answers():
    probs, labels = overconfident()
    before = expected_calibration_error(probs, labels)
    fitted = fit_calibration(probs, labels, bias=False)
    after = calibrated(probs, fitted)
    assert set(fitted) == {"temperature"} and fitted["temperature"] > 1 and before == pytest.approx(0.19, abs=0.02)
    assert expected_calibration_error(after, labels) < 0.02
    assert (after.argmax(1) == probs.argmax(1)).all()
    assert after.max(1).mean() == pytest.approx(0.8, abs=0.02)


def test_fitted_offsets_undo_a_lean_towards_one_class():
    probs, labels = leaning()
    fitted = fit_calibration(probs, labels)
    after = calibrated(probs, fitted)
    # the offset found is the shift put in (the last class's offset is the fixed 0)
    assert fitted["bias"][1] == 0.0 and fitted["bias"][0] == pytest.approx(2.0, abs=0.2)
    assert fitted["temperature"] == pytest.approx(1.0, abs=0.1)
    assert balanced_accuracy(probs, labels) < 0.75 < 0.83 < balanced_accuracy(after, labels)
    assert expected_calibration_error(after, labels) < expected_calibration_error(probs, labels)
    assert expected_calibration_error(after, labels) < 0.03


def test_uncalibrated_gives_back_the_models_own_probabilities():
    probs, labels = leaning(50)
    calibration = {"temperature": 0.7, "bias": [1.3, 0.0]}
    assert np.allclose(uncalibrated(calibrated(probs, calibration), calibration), probs, atol=1e-5)


def test_no_calibration_changes_nothing_and_rows_stay_distributions():
    probs, _ = overconfident(10)
    assert np.allclose(calibrated(probs, {}), probs)
    assert np.allclose(apply_calibration(probs, 1.0, [0.0, 0.0]), probs)
    assert np.allclose(apply_calibration(probs, 3.0, [0.5, 0.0]).sum(1), 1.0)


def test_ece_of_perfectly_calibrated_bins_is_zero():
    probs = np.array([[0.75, 0.25]] * 4)
    assert expected_calibration_error(probs, np.array([0, 0, 0, 1])) == 0.0


def test_fitting_needs_labels():
    with pytest.raises(ValueError, match="labelled"):
        fit_calibration(np.zeros((0, 2)), np.zeros(0))
