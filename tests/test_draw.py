from maskface.draw import caption
from maskface.face import Prediction


def test_a_class_shows_its_probability_as_a_percentage():
    assert caption(Prediction("with_mask", 0.973)) == "with mask 97%"


def test_an_identity_shows_its_similarity_beside_the_threshold_never_a_negative_percentage():
    assert caption(Prediction("Ada Lovelace", 0.71, threshold=0.55)) == "Ada Lovelace 0.71 (threshold 0.55)"
    text = caption(Prediction("unknown", -0.15, threshold=0.55))
    assert text == "unknown -0.15 (threshold 0.55)" and "%" not in text
