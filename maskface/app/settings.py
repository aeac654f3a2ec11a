"""The app's settings: :class:`maskface.config.Settings` (the environment), overridden by ``app.py`` flags.

Every setting has a default that works offline on the shipped models, so
``python app.py`` starts on a fresh clone. A Space sets the variables in its
settings (see ``space.yaml``); a local run may use either. The variables and
what they do are listed in :mod:`maskface.config` and the README.
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping, Sequence
from dataclasses import replace

from ..config import VARIABLES, Settings, parse
from ..detect import DETECTORS

__all__ = ["APP_SETTINGS", "Settings", "flag", "parse_args"]

#: The settings ``app.py`` has a flag for (the others come from the environment only).
APP_SETTINGS = (
    "mask_model",
    "gender_model",
    "identity_model",
    "gallery",
    "labels_dir",
    "unlabelled_dir",
    "detector",
    "concurrency",
    "queue_size",
    "host",
    "port",
)
FLAGS: dict[str, str] = {"host": "--host", "port": "--port"}


def flag(name: str) -> str:
    """The ``app.py`` flag of a setting."""
    return FLAGS.get(name, "--" + name.replace("_", "-"))


def parse_args(argv: Sequence[str] | None = None, environ: Mapping[str, str] | None = None) -> Settings:
    """Settings from the environment, each app setting overridden by its flag when given (``python app.py --help``).

    A bad value fails here, at start-up, naming its variable or flag.
    """
    base = Settings.from_env(environ)
    parser = argparse.ArgumentParser(prog="python app.py", description="Serve the maskface app.")
    for name in APP_SETTINGS:
        now = getattr(base, name)
        help_text = f"(env {VARIABLES[name][0]}; now {','.join(now) if isinstance(now, tuple) else now})"
        parser.add_argument(flag(name), dest=name, metavar=name.upper(), help=help_text)
    args, _ = parser.parse_known_args(argv)  # tolerate flags of launchers such as `gradio app.py`
    settings = replace(base, **{name: parse(name, raw, flag(name)) for name, raw in vars(args).items() if raw is not None})
    if settings.detector not in DETECTORS:
        raise ValueError(f"unknown detector {settings.detector!r}; choose one of {', '.join(DETECTORS)}")
    return settings
