"""Save and load models with everything needed to use them, from one place.

A saved model is a folder, the same locally and on the Hugging Face Hub:

- ``config.json``, ``metadata.json``, ``model.weights.h5``: Keras 3's own
  unzipped format (what ``keras.saving.save_model(model, "hf://...")`` writes);
  a model whose weights exceed :data:`MAX_WEIGHTS_FILE` has them in Keras's
  sharded form instead (``model.weights.json`` and its ``.weights.h5`` shards),
  so that no file is too large for a git repository or a Space;
- ``maskface.json``: the :class:`ModelSpec`: task, labels, crop geometry and
  the figures the model was evaluated with, so nothing is guessed at load time;
- ``README.md``: the model card (written by ``training.card``).

A *source* names such a folder: a shipped model's name (``mask-mobilenetv2``,
looked up in :func:`models_dir`: the models shipped inside the package, or the
``MASKFACE_MODELS_DIR`` setting), a local path, or ``hf://org/repo[@revision]``.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
from dataclasses import asdict, dataclass, field
from pathlib import Path

import keras

from . import layers  # noqa: F401 - registers the custom layers saved models refer to
from .config import settings
from .crops import CropSpec
from .hub import HF_PREFIX

log = logging.getLogger(__name__)

SPEC_FILE = "maskface.json"
WEIGHTS_FILE = "model.weights.h5"
SHARDED_WEIGHTS_FILE = "model.weights.json"
#: Largest weights file written (bytes): larger weights are sharded.
MAX_WEIGHTS_FILE = 16 * 1024**2
#: The models shipped with the package (package data; in a checkout, a link to the repo's ``models/``).
PACKAGED_MODELS = Path(__file__).parent / "models"


def models_dir() -> Path:
    """Where shipped model names are looked up: ``MASKFACE_MODELS_DIR``, else the package's own models."""
    return settings().models_dir or PACKAGED_MODELS


@dataclass
class ModelSpec:
    """What a model does and how to feed it; stored beside its weights."""

    task: str
    arch: str
    labels: list[str]
    crop: CropSpec
    metrics: dict[str, dict[str, float]] = field(default_factory=dict)
    training: dict = field(default_factory=dict)
    calibration: dict = field(default_factory=dict)
    """``temperature`` and ``bias`` (see :mod:`maskface.calibration`), what they were fitted on, ECE before / after."""
    embedding_head: dict = field(default_factory=dict)
    """A read-out of the identity embedding mixed into the network's answer (:mod:`maskface.embedding_head`)."""

    def to_dict(self) -> dict:
        data = asdict(self)
        data["crop"] = self.crop.to_dict()
        return data

    @classmethod
    def from_dict(cls, data: dict) -> ModelSpec:
        return cls(
            task=data["task"],
            arch=data["arch"],
            labels=list(data["labels"]),
            crop=CropSpec.from_dict(data["crop"]),
            metrics=dict(data.get("metrics", {})),
            training=dict(data.get("training", {})),
            calibration=dict(data.get("calibration", {})),
            embedding_head=dict(data.get("embedding_head", {})),
        )


@dataclass
class StoredModel:
    """A loaded Keras model, its spec, and where it came from (shown to users as the version)."""

    model: keras.Model
    spec: ModelSpec
    source: str


class ModelNotFoundError(FileNotFoundError):
    """A model source that names nothing loadable; the message lists what exists."""


def save_model(model: keras.Model, spec: ModelSpec, folder: str | os.PathLike) -> Path:
    """Write ``model`` and ``spec`` to ``folder`` (created; existing model files are replaced)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    # A fresh copy without optimizer state: the saved folder holds what inference needs, a third the size.
    clean = keras.Model.from_config(model.get_config())
    clean.set_weights(model.get_weights())
    # Keras refuses to write over the assets/ folder of a model saved there before
    shutil.rmtree(folder / "assets", ignore_errors=True)
    for old in [folder / SHARDED_WEIGHTS_FILE, *folder.glob("model_*.weights.h5")]:
        old.unlink(missing_ok=True)
    keras.saving.save_model(clean, str(folder), zipped=False)
    if (folder / WEIGHTS_FILE).stat().st_size > MAX_WEIGHTS_FILE:
        (folder / WEIGHTS_FILE).unlink()
        clean.save_weights(str(folder / SHARDED_WEIGHTS_FILE), max_shard_size=MAX_WEIGHTS_FILE / 1024**3)
    write_spec(spec, folder)
    return folder


def write_spec(spec: ModelSpec, folder: str | os.PathLike) -> None:
    """Write (or rewrite, e.g. after evaluation) the spec file of a saved model."""
    tmp = Path(folder) / (SPEC_FILE + ".tmp")
    tmp.write_text(json.dumps(spec.to_dict(), indent=2, sort_keys=True) + "\n")
    tmp.replace(Path(folder) / SPEC_FILE)


def read_spec(folder: str | os.PathLike) -> ModelSpec:
    return ModelSpec.from_dict(json.loads((Path(folder) / SPEC_FILE).read_text()))


def shipped_models() -> list[str]:
    """Names of the shipped models (those in :func:`models_dir`)."""
    folder = models_dir()
    if not folder.is_dir():
        return []
    return sorted(p.name for p in folder.iterdir() if (p / SPEC_FILE).is_file())


def resolve(source: str | os.PathLike) -> Path:
    """Turn a model source into a local folder, downloading ``hf://`` repos into the Hub cache."""
    text = str(source)
    if text.startswith(HF_PREFIX):
        from . import hub

        return hub.download_model(text[len(HF_PREFIX) :])
    path = Path(text)
    if (path / SPEC_FILE).is_file():
        return path
    if (models_dir() / text / SPEC_FILE).is_file():
        return models_dir() / text
    raise ModelNotFoundError(
        f"no model at {text!r}: give a folder holding {SPEC_FILE}, hf://org/repo, "
        f"or one of the shipped models: {', '.join(shipped_models()) or '(none)'}"
    )


def load_model(source: str | os.PathLike) -> StoredModel:
    """Load a model and its spec from a shipped name, a folder or ``hf://org/repo[@revision]``."""
    folder = resolve(source)
    spec = read_spec(folder)
    if (folder / SHARDED_WEIGHTS_FILE).is_file():
        config = json.loads((folder / "config.json").read_text())
        model = keras.saving.deserialize_keras_object(config)
        model.load_weights(str(folder / SHARDED_WEIGHTS_FILE))
    else:
        model = keras.saving.load_model(str(folder), compile=False)
    log.info("loaded %s model %s from %s", spec.task, spec.arch, folder)
    return StoredModel(model=model, spec=spec, source=str(source))


def load_model_or_fallback(source: str | os.PathLike, fallback: str) -> tuple[StoredModel, str]:
    """Load ``source``, or the shipped ``fallback`` when ``source`` is an ``hf://`` repo the Hub cannot serve.

    A Hub repo comes from the Hub cache when the Hub is unreachable but the
    revision was downloaded before; only when neither has it (no network and
    no cache, unknown repo or revision) is ``fallback`` loaded, so an app
    configured for the Hub still starts offline. Other sources are loaded as
    :func:`load_model` does, errors included. Returns the model and a short
    note for users saying which version is served and why.
    """
    text = str(source)
    if not text.startswith(HF_PREFIX):
        stored = load_model(source)
        return stored, text + (" (shipped)" if text in shipped_models() else "")
    try:
        folder = resolve(text)
    except OSError as err:  # the Hub's errors: unreachable and not cached, unknown repo or revision
        reason = str(err).splitlines()[0] if str(err) else type(err).__name__
        log.warning("cannot load %s (%s); serving the shipped %s instead", text, reason, fallback)
        return load_model(fallback), f"{fallback} (shipped; {text} could not be loaded: {reason})"
    stored = load_model(folder)
    stored.source = text
    commit = folder.name if len(folder.name) == 40 and set(folder.name) <= set("0123456789abcdef") else None
    return stored, f"{text} (revision {commit[:12]})" if commit else text
