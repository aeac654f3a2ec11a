"""Smoke test: every shipped example photo gets the right gender from every shipped gender model.

The photos (examples/SOURCES.md) show two women, Rear Admiral Grace Hopper and astronaut Eileen
Collins, bare, with simulated masks, and side by side; none of them is in any training set.
"""

from __future__ import annotations

import pytest

from maskface import Analyzer
from maskface.app.common import EXAMPLES_DIR
from maskface.store import shipped_models

#: Each example photo and the gender of each face in it, left to right.
EXAMPLES = {
    "astronaut.jpg": ["female"],
    "astronaut-masked-simulated.jpg": ["female"],
    "grace_hopper.jpg": ["female"],
    "grace_hopper-masked-simulated.jpg": ["female"],
    "collage-two-faces.jpg": ["female", "female"],
}


@pytest.mark.parametrize("model", ["gender-mobilenetv2", "gender-cnn"])
def test_every_example_photo_gets_the_right_gender(model):
    if model not in shipped_models():
        pytest.skip(f"shipped model {model} missing in models/")
    analyzer = Analyzer(models={"gender": model})
    for name, genders in EXAMPLES.items():
        faces = sorted(analyzer.analyze(EXAMPLES_DIR / name), key=lambda face: face.box[0])
        assert [face["gender"].label for face in faces] == genders, name
