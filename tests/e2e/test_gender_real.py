"""Gender of masked faces, end to end on real LFW test photos with simulated masks."""

from __future__ import annotations

import csv
import random

import numpy as np
import pytest

from maskface import Analyzer
from maskface.crops import locate_face
from maskface.detect import make_detector
from maskface.image import load_image
from maskface.masksim import simulate_mask
from maskface.store import shipped_models


@pytest.fixture(scope="module")
def people(shared_data) -> list[tuple[str, str]]:
    """20 female and 20 male LFW test photos, a fixed random choice."""
    with open(shared_data / "lfw" / "metadata.csv", newline="") as f:
        rows = [r for r in csv.DictReader(f) if r["split"] == "test"]
    rng = random.Random(11)
    return [
        (row["file_name"], gender)
        for gender in ("female", "male")
        for row in rng.sample([r for r in rows if r["gender"] == gender], 20)
    ]


def test_masked_faces_get_their_gender_through_the_full_pipeline(shared_data, people):
    if "gender-mobilenetv2" not in shipped_models():
        pytest.skip("shipped model gender-mobilenetv2 missing in models/")
    analyzer = Analyzer()  # the defaults: detection, mask and gender, as the CLI runs them
    detector = make_detector("auto")
    recall = {"female": [], "male": []}
    for i, (name, gender) in enumerate(people):
        pixels = load_image(shared_data / "lfw" / name)
        face = locate_face(pixels, detector)
        masked = simulate_mask(pixels, face.keypoints, face.box, rng=i)
        faces = analyzer.analyze(masked)
        assert faces, name
        centre = np.array(masked.shape[1::-1]) / 2
        central = min(faces, key=lambda f: np.hypot(*(np.array(f.box[:2]) + np.array(f.box[2:]) / 2 - centre)))
        assert central["mask"].label == "with_mask", name
        recall[gender].append(central["gender"].label == gender)
    balanced = np.mean([np.mean(hits) for hits in recall.values()])
    assert balanced >= 0.8
