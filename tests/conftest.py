"""Shared fixtures: a tiny saved model for fast unit tests, and the shared real data."""

from __future__ import annotations

import os
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def pytest_addoption(parser: pytest.Parser) -> None:
    # here, not in tests/reliability/: pytest reads options before it loads the conftest files of sub-folders
    parser.addoption("--run-load", action="store_true", help="run the 60 s load test of the app's labelling API")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests marked ``load`` (see pytest.ini) skip unless ``--run-load`` is given."""
    if config.getoption("--run-load"):
        return
    skip = pytest.mark.skip(reason="load test: run with --run-load")
    for item in items:
        if item.get_closest_marker("load"):
            item.add_marker(skip)



@pytest.fixture()
def configure(monkeypatch):
    """Call with settings to change (``configure(hub_mirror=path)``) for one test; the library reads them
    through :func:`maskface.config.settings`, and they are restored afterwards."""
    import dataclasses

    from maskface import config

    def change(**changes):
        monkeypatch.setattr(config, "_current", dataclasses.replace(config.settings(), **changes))
        return config.settings()

    return change


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The real data beside the checkout; tests that need it skip, saying why, when it is absent."""
    if not (SHARED_DATA / "mask").is_dir() or not (SHARED_DATA / "lfw").is_dir():
        pytest.skip(f"real data not found at {SHARED_DATA} (the ../shared folder beside the checkout)")
    return SHARED_DATA


@pytest.fixture(scope="session")
def shipped_mask_models(shared_data) -> tuple[str, str]:
    """The two shipped mask models; skip when a checkout lacks them."""
    from maskface.store import shipped_models

    names = ("mask-mobilenetv2", "mask-cnn")
    missing = set(names) - set(shipped_models())
    if missing:
        pytest.skip(f"shipped models missing in models/: {', '.join(sorted(missing))}")
    return names


def save_tiny_model(task: str, folder: Path) -> Path:
    """A randomly initialised 32x32 CNN for ``task``, saved like a shipped model (fast to load and run)."""
    import keras

    from training.architectures import build_model
    from maskface.crops import CropSpec
    from maskface.store import ModelSpec, save_model
    from maskface.tasks import TASKS

    keras.utils.set_random_seed(0)
    model = build_model("cnn", 2, 32, weights=None)
    spec = ModelSpec(task=task, arch="cnn", labels=list(TASKS[task].labels), crop=CropSpec(32, 1.3))
    return save_model(model, spec, folder)


def save_tiny_identity_model(folder: Path, embedding_id: str = "tiny-identity") -> Path:
    """A randomly initialised 32x32 embedding model (16-D, unit length), saved like a shipped identity model."""
    import keras
    from keras import layers

    from maskface.crops import CropSpec
    from maskface.store import ModelSpec, save_model

    keras.utils.set_random_seed(0)
    inputs = keras.Input((32, 32, 3))
    # centred pixels and a linear conv: a random projection, so different pictures get distant embeddings
    x = layers.Rescaling(1 / 127.5, offset=-1.0)(inputs)
    x = layers.Conv2D(8, 3)(x)
    x = layers.Flatten()(x)
    outputs = layers.UnitNormalization()(layers.Dense(16)(x))
    spec = ModelSpec(
        task="identity", arch="tiny", labels=[], crop=CropSpec(32, 1.2), training={"embedding_id": embedding_id}
    )
    return save_model(keras.Model(inputs, outputs), spec, folder)


@pytest.fixture(scope="session")
def tiny_identity_model(tmp_path_factory) -> Path:
    return save_tiny_identity_model(tmp_path_factory.mktemp("models") / "tiny-identity")


@pytest.fixture(scope="session")
def tiny_mask_model(tmp_path_factory) -> Path:
    return save_tiny_model("mask", tmp_path_factory.mktemp("models") / "tiny-mask")


@pytest.fixture(scope="session")
def tiny_gender_model(tmp_path_factory) -> Path:
    return save_tiny_model("gender", tmp_path_factory.mktemp("models") / "tiny-gender")


@pytest.fixture()
def face_photo() -> np.ndarray:
    """A synthetic 64x48 RGB image with structure (gradients), enough for shape-level tests."""
    y, x = np.mgrid[0:64, 0:48]
    return np.stack([x * 5, y * 4, (x + y) * 2], axis=-1).astype(np.uint8)


@pytest.fixture(scope="session")
def toy_gender_real(tmp_path_factory) -> tuple[Path, Path]:
    """(labels dataset folder, shared root) of toy real-photo gender labels, saved by maskface.labelset."""
    from gender_toys import write_toy_gender_real
    from maskface.labelset import LabelSet

    base = tmp_path_factory.mktemp("gender-real")
    root = base / "data"
    labels = LabelSet(base / "gender-real")
    labels.merge(write_toy_gender_real(root))
    labels.save()
    return labels.folder, root


@pytest.fixture(scope="session")
def toy_gender_lfw(tmp_path_factory) -> Path:
    """An LFW-like imagefolder (``images/<person>/``, ``metadata.csv`` with identity, gender and split) of toy faces."""
    from gender_toys import toy_gender_face
    from PIL import Image

    root = tmp_path_factory.mktemp("toy-lfw")
    rng = np.random.default_rng(1)
    lines = ["file_name,identity,gender,split"]
    for split, people in (("train", 16), ("test", 6)):
        for p in range(people):
            person, gender = f"Person{split[:2].upper()}{p}", ("female", "male")[p % 2]
            (root / "images" / person).mkdir(parents=True)
            for k in range(3):
                name = f"images/{person}/{person}_{k:04d}.jpg"
                Image.fromarray(toy_gender_face(rng, gender, masked=False)).save(root / name)
                lines.append(f"{name},{person},{gender},{split}")
    (root / "metadata.csv").write_text("\n".join(lines) + "\n")
    return root
