"""Agreement figures against a hand computation."""

from __future__ import annotations

import pytest

from maskface.agreement import agreement

# Three labelers, four faces; worked by hand below.
VOTES = [
    ("a", "ann", "male"), ("a", "bob", "male"), ("a", "cy", "male"),        # all agree: P_a = 1
    ("b", "ann", "male"), ("b", "bob", "female"), ("b", "cy", "male"),      # 2 vs 1: P_b = (2*1)/(3*2) = 1/3
    ("c", "ann", "female"), ("c", "bob", "female"), ("c", "cy", "female"),  # all agree: P_c = 1
    ("d", "ann", "female"), ("d", "bob", "male"), ("d", "cy", "female"),    # 2 vs 1: P_d = 1/3
    ("e", "ann", "male"),                                                   # labelled once: no agreement figure
]


def test_percent_agreement_and_fleiss_kappa_match_a_hand_computation() -> None:
    result = agreement(VOTES)
    # P-bar = (1 + 1/3 + 1 + 1/3) / 4 = 2/3.
    assert result.percent == pytest.approx(2 / 3)
    # Category shares over the 12 ratings of a-d: male 6/12, female 6/12 -> P_e = 0.5;
    # kappa = (2/3 - 1/2) / (1 - 1/2) = 1/3.
    assert result.fleiss_kappa == pytest.approx(1 / 3)
    assert (result.labels, result.items, result.shared_items) == (13, 5, 4)
    assert result.disagreements == ["b", "d"]


def test_per_labeler_agreement_counts_pairs_with_the_others() -> None:
    per = agreement(VOTES).per_labeler
    # ann: a 2/2, b 1/2 (cy), c 2/2, d 1/2 (cy) -> 6/8; bob: 2, 0, 2, 0 of 8; cy like ann.
    assert per == {"ann": pytest.approx(6 / 8), "bob": pytest.approx(4 / 8), "cy": pytest.approx(6 / 8)}


def test_one_labeler_alone_gives_no_agreement_figure() -> None:
    result = agreement([("a", "ann", "male"), ("b", "ann", "female")])
    assert result.percent is None and result.fleiss_kappa is None
    assert result.per_labeler == {"ann": None}


def test_a_labelers_later_answer_replaces_their_earlier_one() -> None:
    result = agreement([("a", "ann", "male"), ("a", "ann", "female"), ("a", "bob", "female")])
    assert result.labels == 2 and result.percent == 1.0
