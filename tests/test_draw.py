"""How confidences are written for people: never 100%."""

import pytest

from maskface.draw import percent


@pytest.mark.parametrize(
    "score, shown",
    [(0.5, "50%"), (0.874, "87%"), (0.994, "99%"), (0.995, "99.5%"), (0.996, "99.6%"), (0.9989, "99.8%"),
     (0.9995, ">99.9%"), (1.0, ">99.9%")],
)
def test_confidence_is_never_shown_as_certainty(score, shown):
    assert percent(score) == shown
