"""The tasks maskface answers, with their label sets: one definition for models, CLI and app."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Task:
    name: str
    labels: tuple[str, ...]
    positive: str
    """The label whose probability is the score for ROC AUC."""
    protocol: str
    """The evaluation protocol of ``../shared/data/README.md`` that reports on this task."""


TASKS: dict[str, Task] = {
    "mask": Task("mask", ("with_mask", "without_mask"), positive="with_mask", protocol="MASK"),
    "gender": Task("gender", ("female", "male"), positive="female", protocol="GENDER-M"),
}


def get_task(name: str) -> Task:
    try:
        return TASKS[name]
    except KeyError:
        raise ValueError(f"unknown task {name!r}; choose one of {', '.join(TASKS)}") from None
