"""Fitting a gender model's head on the identity embedding, chosen on GENDER-R validation."""

import json
import shutil

import numpy as np
import pytest

from gender_toys import write_toy_gender_real
from maskface.labelset import LabelSet
from maskface.store import load_model, read_spec
from training.__main__ import main
from training.embedding_head import fit_head
from training.gender_r import evaluate


def test_the_fitted_head_reads_raw_embeddings():
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    rng = np.random.default_rng(0)
    female = rng.random(300) < 0.4
    x = rng.normal(3.0, 2.0, (300, 8))
    x[:, 2] += np.where(female, 1.5, -1.5)
    head = fit_head(x, female, np.ones(300), c=0.1)
    reference = make_pipeline(StandardScaler(), LogisticRegression(C=0.1, max_iter=5000)).fit(x, female)
    np.testing.assert_allclose(x @ np.array(head["weights"]) + head["bias"], reference.decision_function(x), atol=1e-4)


@pytest.fixture()
def toy_labels(tmp_path):
    labels = LabelSet(tmp_path / "gender-real")
    labels.merge(write_toy_gender_real(tmp_path / "data", per_part=40))
    labels.save()
    return labels.folder, tmp_path / "data"


def test_a_head_beating_the_network_is_chosen_and_stored_with_its_calibration(
    tiny_gender_model, tiny_identity_model, toy_labels, toy_gender_lfw, tmp_path, capsys
):
    labels, root = toy_labels
    folder = shutil.copytree(tiny_gender_model, tmp_path / "gender")
    command = ["embedding-head", "--model", str(folder), "--identity", str(tiny_identity_model), "--labels", str(labels),
               "--labels-root", str(root), "--lfw", str(toy_gender_lfw), "--cache-dir", str(tmp_path / "cache")]
    assert main(command) == 0
    report = json.loads(capsys.readouterr().out)
    assert not read_spec(folder).embedding_head  # nothing written without --write
    choices = report["choices"]
    assert len(choices) == 1 + 3 * 4 and choices[0]["mix"] == 1.0  # the network alone, then every C and mix
    # the untrained network is at chance; the toy faces' gender shows in a colour band the embedding keeps
    assert report["chosen"]["mix"] < 1.0 and max(c["mean"] for c in choices) > choices[0]["mean"] + 0.2
    assert list((tmp_path / "cache").glob("embedding-head-*.npz"))  # the training embeddings are kept

    assert main(command + ["--write"]) == 0
    written = json.loads(capsys.readouterr().out)
    assert written["chosen"] == report["chosen"]  # the second run read the kept embeddings: the same choice
    spec = read_spec(folder)
    assert spec.embedding_head["mix"] == report["chosen"]["mix"] and len(spec.embedding_head["weights"]) == 16
    assert spec.calibration == report["calibration"] and spec.metrics["GENDER-R validation"] == report["GENDER-R validation"]
    # the saved model, head and calibration, answers validation as the choice was scored
    again = evaluate(load_model(folder), labels, root, "validation")
    best = max(choices, key=lambda c: c["mean"])
    assert (again["masked"]["balanced_accuracy"] + again["bare"]["balanced_accuracy"]) / 2 == pytest.approx(best["mean"], abs=1e-3)
