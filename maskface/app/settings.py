"""The app's settings: environment variables, overridden by ``app.py`` flags.

Every setting has a default that works offline on the shipped models, so
``python app.py`` starts on a fresh clone. A Space sets the variables in its
settings (see ``space.yaml``); a local run may use either.

=============================  =====================  ==============================================
variable                       flag                   what
=============================  =====================  ==============================================
MASKFACE_MASK_MODEL            --mask-model           mask models offered, comma-separated, the
                                                      default first; each a shipped name, a folder
                                                      or ``hf://org/repo[@revision]``
MASKFACE_GENDER_MODEL          --gender-model         gender models offered (same forms)
MASKFACE_IDENTITY_MODEL        --identity-model       identity (embedding) model (same forms)
MASKFACE_GALLERY               --gallery              folder of enrolled people
MASKFACE_LABELS_DIR            --labels-dir           labeled-dataset folder (see maskface.labels)
MASKFACE_UNLABELLED_DIR        --unlabelled-dir       server folder whose images can be queued for
                                                      labeling (its sub-folders are offered)
MASKFACE_DETECTOR              --detector             face detector setting (maskface.detect)
MASKFACE_CONCURRENCY           --concurrency          requests run at once per event
MASKFACE_QUEUE_SIZE            --queue-size           requests waiting before new ones are refused
GRADIO_SERVER_NAME, _PORT      --host, --port         where the app listens
=============================  =====================  ==============================================

MASKFACE_LABELS_REPO, HF_TOKEN and MASKFACE_SYNC_MINUTES are read by
:meth:`maskface.labels.LabelStore.from_env` (Hub sync of the labels).
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields, replace
from pathlib import Path

from ..detect import DETECTORS


@dataclass(frozen=True)
class Settings:
    """What the app serves and where it keeps things; see the module docstring for the variables."""

    mask_model: tuple[str, ...] = ("mask-mobilenetv2", "mask-cnn")
    gender_model: tuple[str, ...] = ("gender-mobilenetv2", "gender-cnn")
    identity_model: str = "identity-mobilenetv2"
    gallery: Path = Path("gallery")
    labels_dir: Path = Path("labels")
    unlabelled_dir: Path = Path("unlabelled")
    detector: str = "auto"
    concurrency: int = 2
    queue_size: int = 32
    host: str = "127.0.0.1"
    port: int = 7860

    def __post_init__(self) -> None:
        if self.detector not in DETECTORS:
            raise ValueError(f"unknown detector {self.detector!r}; choose one of {', '.join(DETECTORS)}")
        for name in ("mask_model", "gender_model"):
            if not getattr(self, name):
                raise ValueError(f"{name} needs at least one model source")
        for name in ("concurrency", "queue_size", "port"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be a positive integer, got {getattr(self, name)!r}")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> Settings:
        """Settings from the environment; unset or empty variables keep the defaults."""
        values: dict = {}
        for field in fields(cls):
            raw = environ.get(ENV_VARS[field.name], "").strip()
            if raw:
                values[field.name] = _convert(field.name, raw, ENV_VARS[field.name])
        return cls(**values)

    @property
    def labels_environ(self) -> dict[str, str]:
        """The environment :meth:`LabelStore.from_env` reads, with this labels folder."""
        return {**os.environ, "MASKFACE_LABELS_DIR": str(self.labels_dir)}


ENV_VARS: dict[str, str] = {
    "mask_model": "MASKFACE_MASK_MODEL",
    "gender_model": "MASKFACE_GENDER_MODEL",
    "identity_model": "MASKFACE_IDENTITY_MODEL",
    "gallery": "MASKFACE_GALLERY",
    "labels_dir": "MASKFACE_LABELS_DIR",
    "unlabelled_dir": "MASKFACE_UNLABELLED_DIR",
    "detector": "MASKFACE_DETECTOR",
    "concurrency": "MASKFACE_CONCURRENCY",
    "queue_size": "MASKFACE_QUEUE_SIZE",
    "host": "GRADIO_SERVER_NAME",
    "port": "GRADIO_SERVER_PORT",
}
FLAGS: dict[str, str] = {"host": "--host", "port": "--port"}


def flag(name: str) -> str:
    """The ``app.py`` flag of a setting."""
    return FLAGS.get(name, "--" + name.replace("_", "-"))


def parse_args(argv: Sequence[str] | None = None, environ: Mapping[str, str] = os.environ) -> Settings:
    """Settings from the environment, each overridden by its flag when given (``python app.py --help``)."""
    base = Settings.from_env(environ)
    parser = argparse.ArgumentParser(prog="python app.py", description="Serve the maskface app.")
    for field in fields(Settings):
        now = getattr(base, field.name)
        help_text = f"(env {ENV_VARS[field.name]}; now {','.join(now) if isinstance(now, tuple) else now})"
        parser.add_argument(flag(field.name), dest=field.name, metavar=field.name.upper(), help=help_text)
    args, _ = parser.parse_known_args(argv)  # tolerate flags of launchers such as `gradio app.py`
    given = {name: _convert(name, raw, flag(name)) for name, raw in vars(args).items() if raw is not None}
    return replace(base, **given)


def _convert(name: str, raw: str, origin: str):
    """A raw setting as its field's type; a bad number fails at start-up naming the variable or flag."""
    if name in ("concurrency", "queue_size", "port"):
        try:
            return int(raw)
        except ValueError:
            raise ValueError(f"{origin} must be an integer, got {raw!r}") from None
    if name in ("mask_model", "gender_model"):
        return tuple(part.strip() for part in raw.split(",") if part.strip())
    if name in ("gallery", "labels_dir", "unlabelled_dir"):
        return Path(raw)
    return raw
