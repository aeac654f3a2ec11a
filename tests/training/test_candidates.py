"""The cheap comparison of training choices: heads on cached features, and the winner exported as a model."""

import keras
import numpy as np
import pytest

from gender_toys import write_toy_gender_real
from maskface.labelset import LabelSet
from maskface.store import load_model
from training import candidates


@pytest.fixture()
def cached(tmp_path, monkeypatch):
    """Toy labels and cached 128-D features where women's first coordinate is higher."""
    monkeypatch.setattr(candidates, "OUT", tmp_path / "candidates")
    candidates.OUT.mkdir()
    labels = LabelSet(tmp_path / "gender-real")
    labels.merge(write_toy_gender_real(tmp_path / "data", per_part=40))
    labels.save()
    rng = np.random.default_rng(0)

    def features(female: np.ndarray) -> np.ndarray:
        x = rng.normal(0, 1, (len(female), 128))
        x[:, 0] += np.where(female, 2.0, -2.0)
        return x

    rows = labels.rows
    np.savez(candidates.OUT / "real-identity.npz", keys=np.array([candidates.key_text(r) for r in rows]),
             x=features(np.array([r["label"] == "female" for r in rows])))
    female = rng.random(400) < 0.3
    np.savez(candidates.OUT / "lfw-base-identity.npz", x=features(female),
             gender=np.where(female, "female", "male"), person=np.array([f"p{i // 3}" for i in range(400)]))
    return labels.folder


def test_a_candidate_is_scored_on_gender_r_validation_masked_and_bare(cached):
    figs, scaler, head = candidates.fit_candidate(candidates.Faces.load(cached), "identity embedding, LFW + real")
    assert figs["C"] in candidates.C_VALUES
    assert figs["masked"]["balanced_accuracy"] > 0.8 and figs["bare"]["roc_auc"] > 0.9


def test_the_exported_head_gives_the_regressions_probabilities(cached, tmp_path):
    from maskface.crops import CropSpec
    from maskface.store import ModelSpec, save_model
    from training.architectures import build_embedder

    keras.utils.set_random_seed(2)  # an untrained identity model stands in for the trunk
    trunk = save_model(
        build_embedder("mobilenetv2", 128, 112, weights=None),
        ModelSpec("identity", "mobilenetv2", [], CropSpec(112, 1.2)),
        tmp_path / "identity",
    )
    folder = candidates.export_head(tmp_path / "head", cached, trunk=str(trunk))
    stored = load_model(folder)
    faces = candidates.Faces.load(cached)
    _, scaler, head = candidates.fit_candidate(faces, "identity embedding, LFW + real")
    pixels = np.random.default_rng(1).uniform(0, 255, (3, 112, 112, 3)).astype("float32")
    embedding = keras.Model(stored.model.inputs, stored.model.get_layer("embedding").output)(pixels).numpy()
    expected = head.predict_proba(scaler.transform(embedding))[:, 1]
    np.testing.assert_allclose(stored.model(pixels).numpy()[:, 0], expected, atol=1e-4)
    assert stored.spec.arch == "mobilenetv2-face" and stored.spec.calibration["fitted_on"] == "GENDER-R validation"
