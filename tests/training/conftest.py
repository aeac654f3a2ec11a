from pathlib import Path

import numpy as np
import pytest
from PIL import Image


def toy_face(rng: np.random.Generator, label: str) -> np.ndarray:
    """A 40x36 'face' whose classes differ visibly: a dark lower half means ``with_mask``."""
    pixels = rng.integers(120, 220, (40, 36, 3), dtype=np.uint8)
    if label == "with_mask":
        pixels[22:] = rng.integers(0, 40, (18, 36, 3), dtype=np.uint8)
    return pixels


@pytest.fixture(scope="session")
def toy_imagefolder(tmp_path_factory) -> Path:
    """A tiny imagefolder with train/test splits where the classes differ visibly (a dark lower half = mask)."""
    root = tmp_path_factory.mktemp("toy")
    rng = np.random.default_rng(0)
    for split, n in (("train", 24), ("test", 10)):
        for label in ("with_mask", "without_mask"):
            folder = root / split / label
            folder.mkdir(parents=True)
            for i in range(n if label == "with_mask" else n // 2):
                Image.fromarray(toy_face(rng, label)).save(folder / f"{label}_{i}.jpg")
    return root


@pytest.fixture(scope="session")
def make_face():
    """``make_face(rng, label)``: a toy face crop like those of :func:`toy_imagefolder`."""
    return toy_face


@pytest.fixture()
def label_store(tmp_path):
    """An empty :class:`maskface.labels.LabelStore` (the labeling tab's dataset folder) and a labeler id."""
    from maskface.labels import LabelStore, new_labeler_id

    return LabelStore(tmp_path / "labels"), new_labeler_id()
