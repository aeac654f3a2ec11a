"""End to end on real photos from ../shared/data with the shipped mask models."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from maskface import Analyzer, cli


@pytest.fixture(scope="module")
def sample(shared_data):
    """``sample(label, n, seed)``: a fixed random choice of MASK test images of one label."""

    def _sample(label: str, n: int, seed: int = 7) -> list[Path]:
        files = sorted((shared_data / "mask" / "test" / label).glob("*.jpg"))
        return random.Random(seed).sample(files, n)

    return _sample


@pytest.fixture(scope="module")
def analyzers(shipped_mask_models) -> dict[str, Analyzer]:
    return {name: Analyzer(models={"mask": name}) for name in shipped_mask_models}


@pytest.mark.parametrize("name, floor", [("mask-mobilenetv2", 0.97), ("mask-cnn", 0.93)])
def test_face_crops_are_classified(analyzers, sample, name, floor):
    hits = 0
    files = [(f, "with_mask") for f in sample("with_mask", 30)] + [(f, "without_mask") for f in sample("without_mask", 30)]
    for path, label in files:
        (face,) = analyzers[name].analyze(path, assume_face=True)
        hits += face["mask"].label == label
    assert hits / len(files) >= floor


def test_masked_faces_are_found_and_called_masked_with_detection(analyzers, sample):
    found = called = 0
    files = sample("with_mask", 25, seed=3)
    for path in files:
        faces = analyzers["mask-mobilenetv2"].analyze(path)
        found += bool(faces)
        called += bool(faces) and max(faces, key=lambda f: f.score)["mask"].label == "with_mask"
    assert found / len(files) >= 0.92
    assert called / len(files) >= 0.88


def test_cli_on_a_real_folder(analyzers, sample, capsys, tmp_path):
    for path in sample("with_mask", 2) + sample("without_mask", 2):
        (tmp_path / path.name).write_bytes(path.read_bytes())
    assert cli.main(["predict", "--assume-face", str(tmp_path)]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert len(lines) == 4
    labels = sorted(line["faces"][0]["mask"]["label"] for line in lines)
    assert labels == ["with_mask", "with_mask", "without_mask", "without_mask"]


# Real scenes from the MASK test split, looked at by eye: (file, faces at least, label of the 3 largest faces).
SCENES = [
    ("with_mask/with_mask_5159b7a5beb0.jpg", 4, "with_mask"),  # four masked people
    ("with_mask/with_mask_403b2a0d9d1e.jpg", 4, "with_mask"),  # masked family, bare faces in the background
    ("without_mask/without_mask_919ffbd399b8.jpg", 4, "without_mask"),  # a group, nobody masked in front
]


@pytest.mark.parametrize("name", ["mask-mobilenetv2", "mask-cnn"])
@pytest.mark.parametrize("file, at_least, label", SCENES)
def test_scenes_with_several_people(analyzers, shared_data, name, file, at_least, label):
    faces = analyzers[name].analyze(shared_data / "mask" / "test" / file)
    assert len(faces) >= at_least
    largest = sorted(faces, key=lambda f: f.box[2] * f.box[3], reverse=True)[:3]
    assert [f["mask"].label for f in largest] == [label] * 3
