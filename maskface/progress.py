"""Labeling progress at a glance: what the Progress view plots and ``maskface labels progress`` prints.

Computed from the label records alone (:meth:`maskface.labels.LabelStore.records`):
labels per day and task, per-labeler counts and agreement, agreement over time
(cumulative, day by day) and the confusion of the served model against the
agreed labels. The model's side of that confusion is the answer the labeling
form was pre-filled with (``predicted_label``), so no model runs here; the
agreed label of a face is its labelers' majority (ties left out).

>>> records = [{"task": "mask", "label": "with_mask", "labeler_id": who, "crop_sha256": "f1",
...             "created_at": "2026-12-02T10:00:00+00:00", "predicted_label": "without_mask"} for who in ("ann", "bob")]
>>> report = progress(records).to_dict()
>>> report["per_task"]["mask"]["percent_agreement"], report["confusion"]["mask"]["model_accuracy"]
(1.0, 0.0)
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from .agreement import Agreement, Vote, agreement, majority

UNSURE = "unsure"


@dataclass(frozen=True)
class Progress:
    """The figures of the Progress view; :meth:`to_dict` is the CLI's JSON."""

    per_day: list[dict]
    per_labeler: list[dict]
    agreement: dict[str, Agreement]
    agreement_over_time: list[dict]
    confusion: dict[str, dict]

    def to_dict(self) -> dict:
        return {
            "per_task": {task: a.to_dict() for task, a in self.agreement.items()},
            "per_day": self.per_day,
            "per_labeler": self.per_labeler,
            "agreement_over_time": self.agreement_over_time,
            "confusion": self.confusion,
        }


def labeler_of(record: dict) -> str:
    """Who gave a label: the labeler's id (the signed-in username, or the browser's id)."""
    return str(record.get("labeler_id") or "?")


def votes_of(records: Iterable[dict]) -> list[Vote]:
    """(face, labeler, label) of each usable record; "unsure" answers say nothing about agreement."""
    return [
        (r["crop_sha256"], labeler_of(r), r["label"])
        for r in records
        if r.get("usable", True) and r["label"] != UNSURE and r.get("crop_sha256")
    ]


def confusion(records: list[dict], agreed: dict[str, str]) -> dict:
    """Rows: the agreed label; columns: the model's suggestion; counts of faces (each face once)."""
    suggestion: dict[str, str] = {}
    for r in records:
        if r.get("predicted_label") and r.get("crop_sha256") in agreed:
            suggestion.setdefault(r["crop_sha256"], r["predicted_label"])
    labels = sorted({*agreed.values(), *suggestion.values()})
    counts = Counter((agreed[item], suggestion[item]) for item in suggestion)
    matrix = [[counts[(truth, guess)] for guess in labels] for truth in labels]
    right = sum(counts[(label, label)] for label in labels)
    return {"labels": labels, "matrix": matrix, "faces": len(suggestion), "model_accuracy": right / len(suggestion) if suggestion else None}


def progress(records: Iterable[dict]) -> Progress:
    """Every figure of the Progress view from the label records."""
    records = list(records)
    by_task: dict[str, list[dict]] = defaultdict(list)
    for r in records:
        by_task[r["task"]].append(r)
    per_day = Counter((r["created_at"][:10], r["task"]) for r in records)
    per_labeler_count = Counter((labeler_of(r), r["task"]) for r in records)
    agreements, over_time, confusions, per_labeler = {}, [], {}, []
    for task, rows in sorted(by_task.items()):
        votes = votes_of(rows)
        agreements[task] = agreement(votes)
        days = sorted({r["created_at"][:10] for r in rows})
        for day in days:  # cumulative: everything labelled up to the end of that day
            so_far = agreement(votes_of(r for r in rows if r["created_at"][:10] <= day))
            over_time.append({"day": day, "task": task, "percent_agreement": so_far.percent, "fleiss_kappa": so_far.fleiss_kappa})
        if task != "identity":
            confusions[task] = confusion(rows, majority(votes))
        for labeler in sorted({labeler_of(r) for r in rows}):
            share = agreements[task].per_labeler.get(labeler)
            per_labeler.append({"labeler": labeler, "task": task, "labels": per_labeler_count[(labeler, task)], "agreement": share})
    return Progress(
        per_day=[{"day": day, "task": task, "labels": n} for (day, task), n in sorted(per_day.items())],
        per_labeler=sorted(per_labeler, key=lambda row: (row["task"], -row["labels"], row["labeler"])),
        agreement=agreements,
        agreement_over_time=over_time,
        confusion=confusions,
    )
