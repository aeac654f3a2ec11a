"""What the tabs share: the models served per task, one face detector, the gallery and the label store.

Models are loaded once, at start-up, through
:func:`maskface.store.load_model_or_fallback`, so a Hub source that cannot be
reached falls back to the shipped model and the app says which version it
serves. Each tab asks for an :class:`~maskface.Analyzer` built from these
loaded models; analyzers share the one detector.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from functools import cached_property

from ..analyzer import DEFAULT_IDENTITY_MODEL, DEFAULT_MODELS, Analyzer
from ..detect import Detector, make_detector
from ..labels import LabelStore
from ..store import StoredModel, load_model_or_fallback
from .settings import Settings

log = logging.getLogger(__name__)

#: How each architecture is named in the model choices.
ARCH_NAMES = {"mobilenetv2": "MobileNetV2", "cnn": "CNN from scratch", "vgg16": "VGG16"}
#: The value of the model choice that runs every model of the task, side by side.
BOTH = "both"


@dataclass(frozen=True)
class Served:
    """A loaded model and the note that tells users which version it is."""

    stored: StoredModel
    note: str

    @property
    def title(self) -> str:
        return ARCH_NAMES.get(self.stored.spec.arch, self.stored.spec.arch)


class Services:
    """The loaded models, detector, gallery and label store of one app."""

    def __init__(self, settings: Settings, labels: LabelStore | None = None) -> None:
        self.settings = settings
        self.models: dict[str, dict[str, Served]] = {
            "mask": _served("mask", settings.mask_model),
            "gender": _served("gender", settings.gender_model),
        }
        self.identity: Served | None = None
        self.identity_problem: str | None = None
        try:
            self.identity = Served(*load_model_or_fallback(settings.identity_model, DEFAULT_IDENTITY_MODEL))
        except (OSError, ValueError) as err:
            self.identity_problem = f"no identity model could be loaded from {settings.identity_model!r}: {err}"
            log.warning("recognition is off: %s", self.identity_problem)
        self.labels = labels if labels is not None else LabelStore.from_env(settings.labels_environ)
        self._analyzers: dict[tuple[str, str], Analyzer] = {}

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
        """The analyzer answering ``task`` with the model chosen as ``value`` (gender also reports masks)."""
        if value not in self.models[task]:
            raise ValueError(f"unknown {task} model {value!r}; choose one of {', '.join(self.models[task])}")
        key = (task, value)
        if key not in self._analyzers:
            models = {task: self.models[task][value].stored}
            if task != "mask":
                models["mask"] = self.default("mask").stored
            self._analyzers[key] = Analyzer(models=models, detector=self.detector)
        return self._analyzers[key]

    def default(self, task: str) -> Served:
        return next(iter(self.models[task].values()))

    @cached_property
    def recognizer(self) -> Analyzer:
        """The analyzer with the gallery (identity and mask per face); ``RuntimeError`` without an identity model."""
        if self.identity is None:
            raise RuntimeError(f"recognition is not available: {self.identity_problem}")
        models = {"mask": self.default("mask").stored, "identity": self.identity.stored}
        return Analyzer(models=models, detector=self.detector, gallery=self.settings.gallery)

    def about(self) -> str:
        """One Markdown line per task: the models served and their versions."""
        lines = [f"- {task}: " + "; ".join(m.note for m in served.values()) for task, served in self.models.items()]
        lines.append(
            f"- identity: {self.identity.note if self.identity else 'off (' + str(self.identity_problem) + ')'}"
        )
        lines.append(f"- labels: {self.labels.sync_status()}")
        return "\n".join(lines)


def _served(task: str, sources: tuple[str, ...]) -> dict[str, Served]:
    """The task's models by the source they were loaded from, the default first.

    An ``hf://`` source the Hub cannot serve falls back to the task's shipped
    default model; a model listed twice that way is served once.
    """
    served: dict[str, Served] = {}
    for source in sources:
        model = Served(*load_model_or_fallback(source, DEFAULT_MODELS[task]))
        if model.stored.spec.task != task:
            raise ValueError(f"the {task} model {source!r} is a {model.stored.spec.task} model")
        served.setdefault(model.stored.source, model)
    return served
