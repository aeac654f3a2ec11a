"""Temperature scaling and expected calibration error."""

import numpy as np
import pytest

from maskface.calibration import apply_temperature, expected_calibration_error, fit_temperature


def overconfident(n: int = 4000, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Binary probabilities of a model that is right 80% of the time and says 99%."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 2, n)
    right = rng.random(n) < 0.8
    said = np.where(right, labels, 1 - labels)
    p = np.where(said == 0, 0.99, 0.01)
    return np.stack([p, 1 - p], axis=1), labels


def test_a_fitted_temperature_removes_overconfidence_without_changing_answers():
    probs, labels = overconfident()
    before = expected_calibration_error(probs, labels)
    t = fit_temperature(probs, labels)
    calibrated = apply_temperature(probs, t)
    assert t > 1 and before == pytest.approx(0.19, abs=0.02)
    assert expected_calibration_error(calibrated, labels) < 0.02
    assert (calibrated.argmax(1) == probs.argmax(1)).all()
    assert calibrated.max(1).mean() == pytest.approx(0.8, abs=0.02)


def test_temperature_one_changes_nothing_and_rows_stay_distributions():
    probs, _ = overconfident(10)
    assert np.allclose(apply_temperature(probs, 1.0), probs)
    assert np.allclose(apply_temperature(probs, 3.0).sum(1), 1.0)


def test_ece_of_perfectly_calibrated_bins_is_zero():
    probs = np.array([[0.75, 0.25]] * 4)
    assert expected_calibration_error(probs, np.array([0, 0, 0, 1])) == 0.0
