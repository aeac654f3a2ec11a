"""What the tabs share: the models served per task, one face detector, the gallery and the label store.

Each task's default model (the first of its sources) and the identity model
are loaded at start-up; the other models offered are loaded on first use, so
the app answers sooner after a start. Every model goes through
:func:`maskface.store.load_model_or_fallback`, so a Hub source that cannot be
reached falls back to the shipped model and the app says which version it
serves. Each tab asks for an :class:`~maskface.Analyzer` built from these
models; analyzers share the one detector. The services also hold the
per-visitor limits (:mod:`.limits`), the labeling queues (:mod:`.queues`) and
the app's temporary folder (:mod:`.uploads`).
"""

from __future__ import annotations

import logging
import os
import secrets
import threading
from collections import OrderedDict
from functools import cached_property
from pathlib import Path

import gradio as gr

from ..analyzer import DEFAULT_IDENTITY_MODEL, DEFAULT_MODELS, Analyzer
from ..detect import Detector, make_detector
from ..gallery import DEFAULT_THRESHOLD, INDEX, Gallery
from ..labels import LabelStore
from ..store import HF_PREFIX, ModelSpec, StoredModel, load_model_or_fallback, read_spec, resolve
from ..sync import label_store
from .limits import RateLimit, SessionShare
from .queues import LabelQueues
from .settings import Settings
from .uploads import TempFolder

log = logging.getLogger(__name__)

#: How each architecture is named in the model choices.
ARCH_NAMES = {"mobilenetv2": "MobileNetV2", "cnn": "CNN from scratch", "vgg16": "VGG16"}
#: The value of the model choice that runs every model of the task, side by side.
BOTH = "both"
#: Galleries kept open at once (each re-reads its folder when it changes).
OPEN_GALLERIES = 64
#: Seconds the app waits, when stopped (SIGTERM), for the labels still pending to reach the Hub.
FLUSH_SECONDS = 20.0
#: The key of what the app keeps in browsers (gr.BrowserState), in the labels folder: ids outlive restarts.
BROWSER_SECRET = ".browser-secret"


class Served:
    """One model the app offers, by its source: loaded once, when :meth:`load` or :attr:`stored` is first used.

    A local source (shipped name or folder) has its spec read at once, which
    is cheap: a missing model or one of another task fails at start-up, and
    its title is known before it loads. An ``hf://`` source is only reached
    when it loads.
    """

    def __init__(self, task: str, source: str, fallback: str) -> None:
        self.task, self.source, self.fallback = task, source, fallback
        self._spec = None if source.startswith(HF_PREFIX) else self._checked(read_spec(resolve(source)))
        self._loaded: tuple[StoredModel, str] | None = None
        self._lock = threading.Lock()

    def load(self) -> Served:
        """Load the model unless it is loaded; requests arriving meanwhile wait for this one load."""
        if self._loaded is None:
            with self._lock:
                if self._loaded is None:
                    stored, note = load_model_or_fallback(self.source, self.fallback)
                    self._spec = self._checked(stored.spec)
                    self._loaded = stored, note
        return self

    @property
    def loaded(self) -> bool:
        return self._loaded is not None

    @property
    def stored(self) -> StoredModel:
        return self.load()._loaded[0]

    @property
    def note(self) -> str:
        """Which version is served (and why, for a fallback); a model not loaded yet is named by its source."""
        return self._loaded[1] if self._loaded else f"{self.source} (loaded on first use)"

    @property
    def title(self) -> str:
        """The architecture's name (and its embedding head, if any: the answer is not the network's alone);
        an ``hf://`` model not loaded yet goes by its repo id."""
        if not self._spec:
            return self.source.removeprefix(HF_PREFIX)
        return ARCH_NAMES.get(self._spec.arch, self._spec.arch) + (" + identity embedding" if self._spec.embedding_head else "")

    def _checked(self, spec: ModelSpec) -> ModelSpec:
        if spec.task != self.task:
            raise ValueError(f"the {self.task} model {self.source!r} is a {spec.task} model")
        return spec


class Services:
    """The models, detector, galleries, label store, limits and temporary folder of one app."""

    def __init__(self, settings: Settings, labels: LabelStore | None = None) -> None:
        self.settings = settings
        self.models: dict[str, dict[str, Served]] = {
            "mask": _served("mask", settings.mask_model),
            "gender": _served("gender", settings.gender_model),
        }
        self.identity: Served | None = None
        self.identity_problem: str | None = None
        try:
            self.identity = Served("identity", settings.identity_model, DEFAULT_IDENTITY_MODEL).load()
        except (OSError, ValueError) as err:
            self.identity_problem = f"no identity model could be loaded from {settings.identity_model!r}: {err}"
            log.warning("recognition is off: %s", self.identity_problem)
        self.labels = labels if labels is not None else label_store(settings)
        self._analyzers: dict[tuple[str, str], Analyzer] = {}
        self._galleries: OrderedDict[Path, Gallery] = OrderedDict()
        self._galleries_lock = threading.Lock()
        self.temp = TempFolder(settings.temp_dir)
        self.share = SessionShare(settings.session_jobs)
        self.label_rate = RateLimit(settings.labels_per_minute)
        self.queues = LabelQueues(settings.queue_max_faces)

    @cached_property
    def detector(self) -> Detector:
        return make_detector(self.settings.detector)

    def choices(self, task: str) -> list[tuple[str, str]]:
        """``(label, value)`` pairs of the task's model choice: each model, then all side by side."""
        served = self.models[task]
        pairs = [(f"{model.title} ({value})", value) for value, model in served.items()]
        return pairs + (
            [("Side by side: " + " | ".join(m.title for m in served.values()), BOTH)] if len(served) > 1 else []
        )

    def analyzer(self, task: str, value: str) -> Analyzer:
        """The analyzer answering ``task`` with the model chosen as ``value`` (gender also reports masks).

        Its model is loaded here on first use, once, however many requests ask at the same time
        (:meth:`Served.load`).
        """
        if value not in self.models[task]:
            raise ValueError(f"unknown {task} model {value!r}; choose one of {', '.join(self.models[task])}")
        key = (task, value)
        if key not in self._analyzers:
            models = {task: self.models[task][value].stored}
            if task != "mask":
                models["mask"] = self.default("mask").stored
            if task == "gender" and self.identity is not None:  # the gender models' embedding head reads it
                models["identity"] = self.identity.stored
            # two first requests may both build one (it is cheap: the models are shared); one is kept
            self._analyzers.setdefault(key, Analyzer(models=models, detector=self.detector))
        return self._analyzers[key]

    def default(self, task: str) -> Served:
        return next(iter(self.models[task].values()))

    @cached_property
    def recognizer(self) -> Analyzer:
        """The analyzer giving each face its embedding and mask; ``RuntimeError`` without an identity model."""
        if self.identity is None:
            raise RuntimeError(f"recognition is not available: {self.identity_problem}")
        models = {"mask": self.default("mask").stored, "identity": self.identity.stored}
        return Analyzer(models=models, detector=self.detector)

    @property
    def gallery(self) -> Gallery:
        """The shared gallery (``settings.gallery``), for the identity model; errors as :attr:`recognizer`'s,
        or :class:`~maskface.gallery.GalleryError` for a gallery of another model."""
        return self.gallery_at(self.settings.gallery, create=True)

    def gallery_at(self, folder: Path, create: bool = False) -> Gallery:
        """The gallery in ``folder``, for the identity model; errors as :attr:`recognizer`'s.

        A gallery is opened once and kept (the :data:`OPEN_GALLERIES` most recently
        used); it re-reads its folder whenever that changed. A missing gallery
        is created when ``create``, else answered as an empty one (every face unknown).
        """
        embedder = self.recognizer.embedder
        with self._galleries_lock:
            exists = (folder / INDEX).is_file()
            if exists and folder in self._galleries:
                self._galleries.move_to_end(folder)
                return self._galleries[folder]
            if not exists and not create:
                return Gallery(folder, embedder.model_id, embedder.thresholds or DEFAULT_THRESHOLD)
            gallery = Gallery.for_model(folder, embedder)
            self._galleries[folder] = gallery
            while len(self._galleries) > OPEN_GALLERIES:
                self._galleries.popitem(last=False)
            return gallery

    def session_closed(self, request: gr.Request) -> None:
        """A browser session ended (``demo.unload``): release its share of the queue and its labeling queues."""
        self.share.forget(request.session_hash or "")
        self.queues.forget(request.session_hash or "")

    @cached_property
    def browser_secret(self) -> str:
        """The key encrypting the labeler id kept in each browser: made once, kept beside the labels."""
        path = self.settings.labels_dir / BROWSER_SECRET
        try:
            return path.read_text(encoding="utf-8").strip()
        except FileNotFoundError:
            pass
        secret = secrets.token_urlsafe(32)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another process made it first
            return path.read_text(encoding="utf-8").strip()
        with os.fdopen(fd, "w", encoding="utf-8") as file:
            file.write(secret)
        return secret

    def close(self) -> None:
        """Stop the background work: push the labels still pending (for at most :data:`FLUSH_SECONDS`), stop sweeping."""
        self.temp.stop()
        self.labels.close(flush_seconds=FLUSH_SECONDS)

    def about(self) -> str:
        """One Markdown line per task: the models served and their versions (or that they load on first use)."""
        lines = [f"- {task}: " + "; ".join(m.note for m in served.values()) for task, served in self.models.items()]
        lines.append(
            f"- identity: {self.identity.note if self.identity else 'off (' + str(self.identity_problem) + ')'}"
        )
        lines.append(f"- labels: {self.labels.sync_status()}")
        return "\n".join(lines)


def _served(task: str, sources: tuple[str, ...]) -> dict[str, Served]:
    """The task's models by source, the default first and loaded now; the others load on first use.

    An ``hf://`` default the Hub cannot serve falls back to the task's shipped
    default model, served under that model's name, so a source listed after it
    that names the same model is served once.
    """
    default = Served(task, sources[0], DEFAULT_MODELS[task]).load()
    served = {default.stored.source: default}
    for source in sources[1:]:
        if source not in served:
            served[source] = Served(task, source, DEFAULT_MODELS[task])
    return served
