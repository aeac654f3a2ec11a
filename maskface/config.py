"""Every setting of maskface, read from the environment in one place, once, into frozen typed settings.

No other module of the package reads ``os.environ``: they ask :func:`settings`,
which reads the variables on first use (never at import) and keeps the result.
A bad value fails there, naming its variable, so a misconfigured deployment
fails at start-up. The app's flags (``app.py --help``) override the app's part
with :func:`dataclasses.replace`; tests and embedding programs install their
own with :func:`configure`.

================================  ===================  =======================================================
variable                          setting              what
================================  ===================  =======================================================
MASKFACE_MODELS_DIR               models_dir           where shipped model names are looked up (default: the
                                                       models shipped inside the package)
MASKFACE_CACHE_DIR                cache_dir            converted TFLite models (default
                                                       ``$XDG_CACHE_HOME/maskface`` or ``~/.cache/maskface``)
MASKFACE_TFLITE                   tflite               0 keeps the models on TensorFlow
MASKFACE_MAX_BYTES, _PIXELS,      max_bytes,           input limits checked before decoding, and the longer
_SIDE                             max_pixels, max_side side larger images are downscaled to
MASKFACE_DATA_DIR                 data_dir             where the app's galleries and labels live unless set one
                                                       by one: ``/data`` when writable (a Space's persistent
                                                       storage), else the working directory
MASKFACE_LABELS_DIR               labels_dir           the labeled-dataset folder (default ``DATA_DIR/labels``)
MASKFACE_LABELS_REPO, HF_TOKEN    labels_repo,         both set: the labels are synced to this private Hub
                                  hf_token             dataset
MASKFACE_SYNC_MINUTES             sync_minutes         minutes between two pushes of the labels
MASKFACE_HUB_MIRROR               hub_mirror           a local folder standing in for the Hub (tests, demos)
MASKFACE_MASK_MODEL, _GENDER_     mask_model,          the app's models: comma-separated sources, default
MODEL                             gender_model         first
MASKFACE_IDENTITY_MODEL           identity_model       the app's identity (embedding) model
MASKFACE_GALLERY                  gallery              the app's shared gallery (``DATA_DIR/gallery``)
MASKFACE_USER_GALLERIES           user_galleries       one private gallery per signed-in Space user
                                                       (``DATA_DIR/user-galleries``)
MASKFACE_UNLABELLED_DIR           unlabelled_dir       server folder the labeling tab can queue
MASKFACE_TEMP_DIR                 temp_dir             the app's own temporary folder (uploads, results)
MASKFACE_DETECTOR                 detector             the app's face detector setting
MASKFACE_CONCURRENCY, _QUEUE_SIZE concurrency,         app requests running the models at once, and
                                  queue_size           waiting
MASKFACE_SESSION_JOBS             session_jobs         requests one browser session may hold in the queue
MASKFACE_ADMINS                   admins               Hugging Face usernames managing the shared gallery
MASKFACE_ANONYMOUS_LABELING       anonymous_labeling   1: visitors not signed in may label on a Space
MASKFACE_LABELS_PER_MINUTE        labels_per_minute    labels one labeler may give per minute
MASKFACE_QUEUE_MAX_FACES          queue_max_faces      faces in one labeling queue
MASKFACE_LABELERS_PER_FACE        labelers_per_face    different labelers each face of a folder is offered to
                                                       (1; e.g. 3 on a Space, for agreement)
MASKFACE_LABEL_MIN_FACE           label_min_face       faces narrower than this (pixels) are left out of
                                                       labeling queues: too small to judge
MASKFACE_GALLERY_MAX_PEOPLE       gallery_max_people   people in one private gallery
MASKFACE_VIDEO_MAX_BYTES,         video_max_bytes,     largest video file, longest video (seconds), highest
_MAX_SECONDS, _MAX_FPS            video_max_seconds,   frame rate (both read from the header before
                                  video_max_fps        decoding)
MASKFACE_VIDEO_MAX_FRAMES,        video_max_frames,    frames analysed per video, their longer side, and the
_MAX_SIDE, MASKFACE_VIDEO_SECONDS video_max_side,      time budget of one video request (seconds)
                                  video_seconds
SPACE_ID                          space_id             set by Hugging Face on a Space: visitors sign in
GRADIO_SERVER_NAME, _PORT         host, port           where the app listens
================================  ===================  =======================================================

>>> from maskface import config
>>> config.Settings.from_env({"MASKFACE_MAX_SIDE": "1024"}).limits.max_side
1024
>>> config.Settings.from_env({"MASKFACE_CONCURRENCY": "many"})
Traceback (most recent call last):
...
ValueError: MASKFACE_CONCURRENCY must be a positive integer, got 'many'
"""

from __future__ import annotations

import math
import os
import tempfile
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class Limits:
    """Resource limits for one image.

    ``max_bytes`` applies to files and uploaded bytes before decoding;
    ``max_pixels`` to the width x height declared in the header, before
    decoding (and to arrays and PIL images); images whose longer side exceeds
    ``max_side`` are downscaled to it, aspect ratio kept.

    With the defaults, a 10000x10000 image (100 MP) is refused with a message
    naming MASKFACE_MAX_PIXELS; with that limit raised it loads and comes back
    as 4096x4096.
    """

    max_bytes: int = 25 * 1024 * 1024
    max_pixels: int = 50_000_000
    max_side: int = 4096

    def __post_init__(self) -> None:
        for name in ("max_bytes", "max_pixels", "max_side"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"Limits.{name} must be a positive integer, got {value!r}")


#: A Space's persistent storage, mounted here when the Space has it.
PERSISTENT_VOLUME = Path("/data")


def default_data_dir() -> Path:
    """``/data`` when a Space has persistent storage mounted there (and it is writable), else the working directory."""
    volume = PERSISTENT_VOLUME
    return volume if volume.is_dir() and os.access(volume, os.W_OK) else Path(".")


def default_cache_dir(environ: Mapping[str, str]) -> Path:
    """``$XDG_CACHE_HOME/maskface``, or ``~/.cache/maskface``."""
    return Path(environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "maskface"


@dataclass(frozen=True)
class Settings:
    """Every setting, typed; the defaults work offline on the shipped models. See the module's table.

    ``gallery``, ``user_galleries`` and ``labels_dir`` default to folders of ``data_dir``.
    """

    models_dir: Path | None = None
    cache_dir: Path = field(default_factory=lambda: default_cache_dir({}))
    tflite: bool = True
    max_bytes: int = Limits.max_bytes
    max_pixels: int = Limits.max_pixels
    max_side: int = Limits.max_side
    data_dir: Path = Path(".")
    labels_dir: Path | None = None
    labels_repo: str | None = None
    hf_token: str | None = field(default=None, repr=False)  # a secret: never in logs or tracebacks
    sync_minutes: float = 5.0
    hub_mirror: Path | None = None
    mask_model: tuple[str, ...] = ("mask-mobilenetv2", "mask-cnn")
    gender_model: tuple[str, ...] = ("gender-mobilenetv2", "gender-cnn")
    identity_model: str = "identity-dlib-resnet"
    gallery: Path | None = None
    user_galleries: Path | None = None
    unlabelled_dir: Path = Path("unlabelled")
    temp_dir: Path = field(default_factory=lambda: Path(tempfile.gettempdir()) / "maskface-app")
    detector: str = "auto"
    concurrency: int = 2
    queue_size: int = 64
    session_jobs: int = 2
    admins: tuple[str, ...] = ()
    anonymous_labeling: bool = False
    labels_per_minute: int = 30
    queue_max_faces: int = 300
    labelers_per_face: int = 1
    label_min_face: int = 40
    gallery_max_people: int = 100
    video_max_bytes: int = 50 * 1024 * 1024
    video_max_seconds: float = 600.0
    video_max_fps: float = 60.0
    video_max_frames: int = 120
    video_max_side: int = 1280
    video_seconds: float = 60.0
    space_id: str = ""
    host: str = "127.0.0.1"
    port: int = 7860

    def __post_init__(self) -> None:
        for name, folder in (("gallery", "gallery"), ("user_galleries", "user-galleries"), ("labels_dir", "labels")):
            if getattr(self, name) is None:
                object.__setattr__(self, name, self.data_dir / folder)
        object.__setattr__(self, "admins", tuple(name.strip().lower() for name in self.admins if name.strip()))
        self.limits  # noqa: B018 - validates the three limits
        for name in ("mask_model", "gender_model"):
            if not getattr(self, name):
                raise ValueError(f"{name} needs at least one model source")
        for name in POSITIVE_INTEGERS:
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be a positive integer, got {getattr(self, name)!r}")
        for name in POSITIVE_NUMBERS:
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be a positive number, got {getattr(self, name)!r}")

    @property
    def on_space(self) -> bool:
        """Whether the app serves a Hugging Face Space (``SPACE_ID`` set): visitors sign in, nobody is operator."""
        return bool(self.space_id)

    @property
    def limits(self) -> Limits:
        return Limits(self.max_bytes, self.max_pixels, self.max_side)

    @property
    def labels_sync(self) -> tuple[str, str] | None:
        """``(repo, token)`` when the labels are to be synced to the Hub (both set), else ``None``."""
        return (self.labels_repo, self.hf_token) if self.labels_repo and self.hf_token else None

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Settings from ``environ`` (default: the process environment); unset or empty variables keep the defaults."""
        environ = os.environ if environ is None else environ
        values: dict = {"cache_dir": default_cache_dir(environ), "data_dir": default_data_dir()}
        for name, (variable, parse) in VARIABLES.items():
            raw = environ.get(variable, "").strip()
            if raw:
                values[name] = parse(raw, variable)
        return cls(**values)


POSITIVE_INTEGERS = (
    "concurrency", "queue_size", "session_jobs", "labels_per_minute", "queue_max_faces", "gallery_max_people",
    "labelers_per_face", "label_min_face",
    "video_max_bytes", "video_max_frames", "video_max_side", "port",
)
POSITIVE_NUMBERS = ("sync_minutes", "video_max_seconds", "video_max_fps", "video_seconds")


def _positive_int(raw: str, origin: str) -> int:
    try:
        value = int(raw)  # underscores allowed: 100_000_000
    except ValueError:
        value = 0
    if value < 1:
        raise ValueError(f"{origin} must be a positive integer, got {raw!r}")
    return value


def _positive_float(raw: str, origin: str) -> float:
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not value > 0:
        raise ValueError(f"{origin} must be a positive number, got {raw!r}")
    return value


def _switch(raw: str, origin: str) -> bool:
    return raw.lower() not in ("0", "false", "no", "off")


def _sources(raw: str, origin: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in raw.split(",") if part.strip())


def _path(raw: str, origin: str) -> Path:
    return Path(raw)


def _text(raw: str, origin: str) -> str:
    return raw


#: Each setting's variable and how its text becomes the setting's type.
VARIABLES: dict[str, tuple[str, Callable[[str, str], object]]] = {
    "models_dir": ("MASKFACE_MODELS_DIR", _path),
    "cache_dir": ("MASKFACE_CACHE_DIR", _path),
    "tflite": ("MASKFACE_TFLITE", _switch),
    "max_bytes": ("MASKFACE_MAX_BYTES", _positive_int),
    "max_pixels": ("MASKFACE_MAX_PIXELS", _positive_int),
    "max_side": ("MASKFACE_MAX_SIDE", _positive_int),
    "data_dir": ("MASKFACE_DATA_DIR", _path),
    "labels_dir": ("MASKFACE_LABELS_DIR", _path),
    "labels_repo": ("MASKFACE_LABELS_REPO", _text),
    "hf_token": ("HF_TOKEN", _text),
    "sync_minutes": ("MASKFACE_SYNC_MINUTES", _positive_float),
    "hub_mirror": ("MASKFACE_HUB_MIRROR", _path),
    "mask_model": ("MASKFACE_MASK_MODEL", _sources),
    "gender_model": ("MASKFACE_GENDER_MODEL", _sources),
    "identity_model": ("MASKFACE_IDENTITY_MODEL", _text),
    "gallery": ("MASKFACE_GALLERY", _path),
    "user_galleries": ("MASKFACE_USER_GALLERIES", _path),
    "unlabelled_dir": ("MASKFACE_UNLABELLED_DIR", _path),
    "temp_dir": ("MASKFACE_TEMP_DIR", _path),
    "detector": ("MASKFACE_DETECTOR", _text),
    "concurrency": ("MASKFACE_CONCURRENCY", _positive_int),
    "queue_size": ("MASKFACE_QUEUE_SIZE", _positive_int),
    "session_jobs": ("MASKFACE_SESSION_JOBS", _positive_int),
    "admins": ("MASKFACE_ADMINS", _sources),
    "anonymous_labeling": ("MASKFACE_ANONYMOUS_LABELING", _switch),
    "labels_per_minute": ("MASKFACE_LABELS_PER_MINUTE", _positive_int),
    "queue_max_faces": ("MASKFACE_QUEUE_MAX_FACES", _positive_int),
    "labelers_per_face": ("MASKFACE_LABELERS_PER_FACE", _positive_int),
    "label_min_face": ("MASKFACE_LABEL_MIN_FACE", _positive_int),
    "gallery_max_people": ("MASKFACE_GALLERY_MAX_PEOPLE", _positive_int),
    "video_max_bytes": ("MASKFACE_VIDEO_MAX_BYTES", _positive_int),
    "video_max_seconds": ("MASKFACE_VIDEO_MAX_SECONDS", _positive_float),
    "video_max_fps": ("MASKFACE_VIDEO_MAX_FPS", _positive_float),
    "video_max_frames": ("MASKFACE_VIDEO_MAX_FRAMES", _positive_int),
    "video_max_side": ("MASKFACE_VIDEO_MAX_SIDE", _positive_int),
    "video_seconds": ("MASKFACE_VIDEO_SECONDS", _positive_float),
    "space_id": ("SPACE_ID", _text),
    "host": ("GRADIO_SERVER_NAME", _text),
    "port": ("GRADIO_SERVER_PORT", _positive_int),
}

def parse(name: str, raw: str, origin: str | None = None):
    """The text ``raw`` of setting ``name`` as its type; errors name ``origin`` (default: its variable)."""
    variable, convert = VARIABLES[name]
    return convert(raw.strip(), origin or variable)


_current: Settings | None = None


def settings() -> Settings:
    """The process's settings: read from the environment on first use, then kept."""
    global _current
    if _current is None:
        _current = Settings.from_env()
    return _current


def configure(new: Settings) -> Settings:
    """Install ``new`` as the process's settings (an app's flags, a test); returns the previous ones."""
    global _current
    previous, _current = settings(), new
    return previous


def environment(names: Iterable[str], environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The variables among ``names`` that are set (not empty) in the environment, e.g. what a Space deploy copies."""
    environ = os.environ if environ is None else environ
    return {name: environ[name] for name in names if environ.get(name, "").strip()}


#: Variables that libraries maskface uses read once, when they load: onnxruntime's telemetry switch
#: (else it reports usage and writes a session file: inference must store nothing), TensorFlow's C++
#: log level (its start-up chatter would drown the CLI's messages) and Gradio's analytics (nothing
#: about users is sent). A value the user set is kept.
THIRD_PARTY_DEFAULTS: dict[str, str] = {
    "ORT_DISABLE_TELEMETRY": "1",
    "TF_CPP_MIN_LOG_LEVEL": "2",
    "GRADIO_ANALYTICS_ENABLED": "False",
}


def use_gradio_temp_dir(folder: Path) -> None:
    """Make ``folder`` Gradio's temporary folder (``GRADIO_TEMP_DIR``, read when the Blocks and its server are built)."""
    os.environ["GRADIO_TEMP_DIR"] = str(folder)


def set_third_party_defaults(*names: str) -> None:
    """Set :data:`THIRD_PARTY_DEFAULTS` (or only ``names``) unless set: before those libraries load."""
    for name in names or THIRD_PARTY_DEFAULTS:
        os.environ.setdefault(name, THIRD_PARTY_DEFAULTS[name])
