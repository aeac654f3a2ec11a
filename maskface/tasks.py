"""The tasks maskface answers, with their label sets: one definition for models, CLI and app."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Task:
    name: str
    labels: tuple[str, ...]
    positive: str
    """The label whose probability is the score for ROC AUC."""
    protocol: str
    """The evaluation protocol of ``../shared/data/README.md`` that reports on this task."""
    column: str | None = None
    """The data column holding the label, when it is not named after the task (else ``label``)."""


TASKS: dict[str, Task] = {
    "mask": Task("mask", ("with_mask", "without_mask"), positive="with_mask", protocol="MASK"),
    "gender": Task("gender", ("female", "male"), positive="female", protocol="GENDER-M"),
}


#: The seeds' closed-set recognition: a softmax over a fixed set of known people (for comparison
#: with the papers; the product recognises people by embedding, see ``maskface.gallery``).
#: Its labels, the people, come from the data (``training.protocols.closed_set_people``).
CLOSED_SET = "identity-closed"
TRAINABLE = (*TASKS, CLOSED_SET)


def get_task(name: str, labels: Sequence[str] | None = None) -> Task:
    """The task called ``name``; the closed-set task needs its ``labels`` (the people, from data or a model's spec)."""
    if name == CLOSED_SET:
        if not labels:
            raise ValueError(f"the {CLOSED_SET} task needs its people as labels")
        return Task(CLOSED_SET, tuple(labels), positive=labels[0], protocol="ID-CLOSED", column="identity")
    try:
        return TASKS[name]
    except KeyError:
        raise ValueError(f"unknown task {name!r}; choose one of {', '.join(TRAINABLE)}") from None
