"""Mixing a network's two-label answer with a read-out of the identity embedding, in the analyzer."""

import shutil

import numpy as np
import pytest

from maskface.analyzer import Analyzer
from maskface.embedding_head import head_logit, with_head
from maskface.store import load_model, read_spec, write_spec

LABELS = ["female", "male"]


def head(weights, bias=0.0, mix=0.5, label="female", embedding_id="tiny-identity", identity_model=""):
    return {"weights": list(weights), "bias": bias, "mix": mix, "label": label, "embedding_id": embedding_id,
            "identity_model": identity_model}


def test_the_mix_weighs_the_network_against_the_head():
    network = np.array([[0.9, 0.1], [0.2, 0.8]])
    embeddings = np.array([[1.0, 0.0], [0.0, 1.0]])
    h = head([2.0, -3.0], bias=0.5)
    np.testing.assert_allclose(head_logit(embeddings, h), [2.5, -2.5])
    assert with_head(network, LABELS, embeddings, h | {"mix": 1.0}) == pytest.approx(network, abs=1e-6)
    alone = with_head(network, LABELS, embeddings, h | {"mix": 0.0})
    assert alone[:, 0] == pytest.approx(1 / (1 + np.exp(-np.array([2.5, -2.5]))), abs=1e-6)
    half = with_head(network, LABELS, embeddings, h)
    expected = 0.5 * np.log(np.array([9.0, 0.25])) + 0.5 * np.array([2.5, -2.5])
    assert half[:, 0] == pytest.approx(1 / (1 + np.exp(-expected)), abs=1e-6)
    assert half.sum(axis=1) == pytest.approx([1.0, 1.0])


def test_the_head_reads_its_label_whatever_the_label_order():
    network = np.array([[0.3, 0.7]])
    h = head([0.0], bias=1.0, mix=0.0, label="female")
    flipped = with_head(network[:, ::-1], ["male", "female"], np.zeros((1, 1)), h)
    assert with_head(network, LABELS, np.zeros((1, 1)), h)[0, 0] == pytest.approx(flipped[0, 1])
    with pytest.raises(ValueError, match="two-label"):
        with_head(np.ones((1, 3)) / 3, ["a", "b", "c"], np.zeros((1, 1)), h)


@pytest.fixture()
def gender_with_head(tiny_gender_model, tiny_identity_model, tmp_path):
    """The tiny gender model with a head on the tiny identity model's 16-D embedding."""
    folder = shutil.copytree(tiny_gender_model, tmp_path / "gender")

    def with_(h: dict):
        spec = read_spec(folder)
        spec.embedding_head = h | {"identity_model": str(tiny_identity_model)}
        write_spec(spec, folder)
        return folder

    return with_


def test_the_analyzer_answers_with_the_head_and_embeds_each_face_once(gender_with_head, tiny_identity_model, face_photo):
    # weights 0, bias +30, no share for the network: every face is female, whatever the network says
    folder = gender_with_head(head(np.zeros(16), bias=30.0, mix=0.0))
    analyzer = Analyzer({"gender": folder, "identity": tiny_identity_model})
    (face,) = analyzer.analyze(face_photo, assume_face=True)
    assert face["gender"].label == "female" and face["gender"].score == pytest.approx(1.0)
    assert analyzer._head_embedder(read_spec(folder).embedding_head) is analyzer.embedder  # one identity model, shared
    plain = Analyzer({"gender": folder})  # without its own identity model, the head loads the one it names
    assert plain.embedder is None and plain.analyze(face_photo, assume_face=True)[0]["gender"].label == "female"
    network_only = load_model(folder)
    network_only.spec.embedding_head = {}
    assert Analyzer({"gender": network_only}).analyze(face_photo, assume_face=True)[0]["gender"].score < 0.99


def test_a_head_on_another_embedding_is_refused_at_once(gender_with_head):
    folder = gender_with_head(head(np.zeros(16), embedding_id="another-identity-model"))
    with pytest.raises(ValueError, match="another-identity-model.*fit the head again"):
        Analyzer({"gender": folder})
