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

from ..config import VARIABLES, Settings, environment, parse
from ..detect import DETECTORS

__all__ = ["APP_SETTINGS", "Settings", "flag", "parse_args"]

#: The settings ``app.py`` has a flag for (the others come from the environment only; ``SPACE_ID`` is the Space's).
APP_SETTINGS = (
    "mask_model",
    "gender_model",
    "identity_model",
    "data_dir",
    "gallery",
    "user_galleries",
    "labels_dir",
    "unlabelled_dir",
    "temp_dir",
    "detector",
    "concurrency",
    "queue_size",
    "session_jobs",
    "admins",
    "anonymous_labeling",
    "labels_per_minute",
    "queue_max_faces",
    "gallery_max_people",
    "video_max_bytes",
    "video_max_seconds",
    "video_max_fps",
    "video_max_frames",
    "video_max_side",
    "video_seconds",
    "host",
    "port",
)
FLAGS: dict[str, str] = {"host": "--host", "port": "--port"}
#: The folders that follow ``data_dir`` unless set themselves.
DATA_FOLDERS = ("gallery", "user_galleries", "labels_dir")


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
    given = {name: parse(name, raw, flag(name)) for name, raw in vars(args).items() if raw is not None}
    if "data_dir" in given:  # the folders that followed the old data folder follow the new one, unless set
        set_apart = environment([VARIABLES[n][0] for n in DATA_FOLDERS], environ)
        given = {**{n: None for n in DATA_FOLDERS if VARIABLES[n][0] not in set_apart}, **given}
    settings = replace(base, **given)
    if settings.detector not in DETECTORS:
        raise ValueError(f"unknown detector {settings.detector!r}; choose one of {', '.join(DETECTORS)}")
    return settings

