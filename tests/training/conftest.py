from pathlib import Path

import numpy as np
import pytest
from PIL import Image


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
                pixels = rng.integers(120, 220, (40, 36, 3), dtype=np.uint8)
                if label == "with_mask":
                    pixels[22:] = rng.integers(0, 40, (18, 36, 3), dtype=np.uint8)
                Image.fromarray(pixels).save(folder / f"{label}_{i}.jpg")
    return root
