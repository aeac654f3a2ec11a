"""Shared fixtures: a tiny saved model for fast unit tests, and the shared real data."""

from __future__ import annotations

import os
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"

needs_shared_data = pytest.mark.skipif(
    not (SHARED_DATA / "mask").is_dir(),
    reason=f"real data not found at {SHARED_DATA} (the ../shared folder beside the checkout)",
)


@pytest.fixture(scope="session")
def tiny_mask_model(tmp_path_factory) -> Path:
    """A randomly initialised 32x32 CNN mask model saved like a shipped one (fast to load and run)."""
    from maskface.architectures import build_model
    from maskface.crops import CropSpec
    from maskface.store import ModelSpec, save_model
    from maskface.tasks import TASKS

    import keras

    keras.utils.set_random_seed(0)
    model = build_model("cnn", 2, 32, weights=None)
    spec = ModelSpec(task="mask", arch="cnn", labels=list(TASKS["mask"].labels), crop=CropSpec(32, 1.3))
    return save_model(model, spec, tmp_path_factory.mktemp("models") / "tiny-mask")


@pytest.fixture()
def face_photo() -> np.ndarray:
    """A synthetic 64x48 RGB image with structure (gradients), enough for shape-level tests."""
    y, x = np.mgrid[0:64, 0:48]
    return np.stack([x * 5, y * 4, (x + y) * 2], axis=-1).astype(np.uint8)
