"""Aggregated labels: majority for few labelers, Dawid-Skene from three on."""

from __future__ import annotations

import numpy as np

from maskface.agreement import majority
from training.aggregate import aggregate, dawid_skene

LABELS = ("female", "male")


def simulated_votes(accuracies: dict[str, float], faces: int, seed: int) -> tuple[list, dict[str, str]]:
    """Each labeler answers each face right with their own probability."""
    rng = np.random.default_rng(seed)
    truth = {f"face{i}": LABELS[rng.integers(2)] for i in range(faces)}
    votes = []
    for item, label in truth.items():
        for labeler, accuracy in accuracies.items():
            answer = label if rng.random() < accuracy else LABELS[1 - LABELS.index(label)]
            votes.append((item, labeler, answer))
    return votes, truth


def accuracy(predicted: dict[str, str], truth: dict[str, str]) -> float:
    return sum(predicted.get(item) == label for item, label in truth.items()) / len(truth)


def test_dawid_skene_recovers_the_truth_better_than_majority_with_one_careful_labeler() -> None:
    votes, truth = simulated_votes({"careful": 0.9, "fair": 0.7, "careless": 0.55}, faces=600, seed=0)
    by_majority, by_ds = accuracy(majority(votes), truth), accuracy(dawid_skene(votes), truth)
    # Majority of three independent labelers is right 0.9*0.7 + 0.9*0.3*0.55 + 0.1*0.7*0.55 = 81.7% of the time;
    # Dawid-Skene learns that the careful labeler outweighs the other two together (about 90%).
    assert by_ds > by_majority + 0.04
    assert by_ds > 0.86


def test_three_labelers_per_face_aggregate_by_dawid_skene_fewer_by_majority() -> None:
    votes, _ = simulated_votes({"careful": 0.9, "fair": 0.7, "careless": 0.55}, faces=300, seed=1)
    assert aggregate(votes, labelers_per_face=3) == dawid_skene(votes)
    assert aggregate(votes, labelers_per_face=2) == majority(votes)


def test_a_tie_under_majority_leaves_the_face_out() -> None:
    votes = [("f1", "ann", "male"), ("f1", "bob", "female"), ("f2", "ann", "female")]
    assert majority(votes) == {"f2": "female"}
