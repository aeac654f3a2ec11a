"""Publish a trained model folder to a Hub model repo, never replacing a better one by accident.

The comparison uses each task's protocol figure (``maskface.json`` of both
versions): MASK accuracy, GENDER-M balanced accuracy on masked faces. A model
that is worse than the repo's current version, was evaluated on no protocol,
or is for another task is refused unless ``force``.

>>> push("runs/mask-mobilenetv2", "org/maskface-mask")        # doctest: +SKIP
'https://huggingface.co/org/maskface-mask/commit/...'
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

from maskface import hub
from maskface.store import SPEC_FILE, ModelSpec, read_spec

log = logging.getLogger(__name__)

# The figure that decides which of two versions is better, per protocol: (metrics key, metric).
# Per task: the protocol key in the spec's metrics and the figure that ranks its models.
MAIN_METRIC = {
    "mask": ("MASK", "accuracy"),
    "gender": ("GENDER-M masked", "balanced_accuracy"),
    "identity": ("ID-M", "masked rank1"),
    "identity-closed": ("ID-CLOSED masked", "accuracy"),
}


class PushRefused(ValueError):
    """The push would publish a model that is not known to be at least as good; the message says why."""


def main_figure(spec: ModelSpec) -> tuple[str, str, float | None]:
    """The protocol key, metric name and value that rank models of ``spec``'s task (value ``None`` if not measured)."""
    key, metric = MAIN_METRIC[spec.task]
    value = spec.metrics.get(key, {}).get(metric)
    return key, metric, None if value is None else float(value)


def remote_spec(repo: str) -> ModelSpec | None:
    """The spec of the repo's current version, or ``None`` when the repo (or its spec) does not exist yet."""
    path = hub.download_file(repo, SPEC_FILE)
    return ModelSpec.from_dict(json.loads(path.read_text())) if path else None


def check(spec: ModelSpec, current: ModelSpec | None) -> str:
    """Why ``spec`` may replace ``current``, in a line; raises :class:`PushRefused` when it may not."""
    key, metric, ours = main_figure(spec)
    if ours is None:
        raise PushRefused(
            f"the model has no {key} {metric}: evaluate it first (python -m training evaluate --write), or use --force"
        )
    if current is None:
        return f"{key} {metric} {ours:.4f}; the repo has no model yet"
    if current.task != spec.task:
        raise PushRefused(
            f"the repo holds a {current.task} model, this is a {spec.task} model (use --force to replace it)"
        )
    theirs = main_figure(current)[2]
    if theirs is None:
        return f"{key} {metric} {ours:.4f}; the repo's version has no {key} figure"
    if theirs > ours:
        raise PushRefused(
            f"the repo's version is better on {key} {metric}: {theirs:.4f} there, {ours:.4f} here (use --force to push anyway)"
        )
    return f"{key} {metric} {ours:.4f}, the repo's version {theirs:.4f}"


def push(folder: str | Path, repo: str, force: bool = False) -> str:
    """Upload the model in ``folder`` (weights, spec, card, pictures) to ``repo``; returns the commit URL."""
    folder = Path(folder)
    if not (folder / SPEC_FILE).is_file():
        raise PushRefused(f"{folder} is not a saved model (no {SPEC_FILE})")
    if (folder / ".run").exists():
        raise PushRefused(f"{folder} holds an unfinished training run: finish it (rerun train) before pushing")
    spec = read_spec(folder)
    try:
        reason = check(spec, remote_spec(repo))
    except PushRefused as refused:
        if not force:
            raise
        reason = f"forced: {refused}"
    log.info("pushing %s to %s: %s", folder, repo, reason)
    key, metric, ours = main_figure(spec)
    figure = f"{key} {metric} {ours:.4f}" if ours is not None else "not evaluated"
    return hub.upload_model(folder, repo, message=f"{spec.arch} {spec.task} model, {figure}")
