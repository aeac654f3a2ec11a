"""The Progress view's figures from label records, and the same figures from the CLI."""

from __future__ import annotations

import json

import numpy as np
import pytest

from maskface import cli
from maskface.progress import progress


def record(face: str, labeler: str, label: str, day: str, suggestion: str | None = None, task: str = "gender") -> dict:
    return {"task": task, "label": label, "labeler_id": labeler, "crop_sha256": face, "usable": label != "unsure",
            "created_at": f"2026-12-0{day}T12:00:00+00:00", "predicted_label": suggestion}


RECORDS = [
    record("a", "ann", "male", "1", "female"), record("a", "bob", "male", "1", "female"),
    record("b", "ann", "female", "1", "female"), record("b", "bob", "male", "2", "female"),
    record("c", "ann", "female", "2", "female"), record("c", "bob", "female", "2", "female"),
    record("d", "bob", "unsure", "2", "male"),
    record("m", "ann", "with_mask", "2", "with_mask", task="mask"),
]


def test_counts_per_day_task_and_labeler() -> None:
    report = progress(RECORDS).to_dict()
    assert report["per_day"] == [
        {"day": "2026-12-01", "task": "gender", "labels": 3},
        {"day": "2026-12-02", "task": "gender", "labels": 4},
        {"day": "2026-12-02", "task": "mask", "labels": 1},
    ]
    gender = {row["labeler"]: row for row in report["per_labeler"] if row["task"] == "gender"}
    assert gender["ann"]["labels"] == 3 and gender["bob"]["labels"] == 4
    # ann agrees with bob on a and c, not on b: 2 of 3 pairs; bob's "unsure" says nothing about agreement
    assert gender["ann"]["agreement"] == pytest.approx(2 / 3) and gender["bob"]["agreement"] == pytest.approx(2 / 3)


def test_agreement_over_time_is_cumulative() -> None:
    over = [row for row in progress(RECORDS).to_dict()["agreement_over_time"] if row["task"] == "gender"]
    assert [row["day"] for row in over] == ["2026-12-01", "2026-12-02"]
    assert over[0]["percent_agreement"] == 1.0  # by the end of day 1 only face a had two labels
    assert over[1]["percent_agreement"] == pytest.approx(2 / 3)


def test_the_models_confusion_is_against_the_agreed_labels() -> None:
    confusion = progress(RECORDS).to_dict()["confusion"]["gender"]
    # agreed: a male, c female (b ties, d is unsure); the model suggested female for both
    assert confusion["labels"] == ["female", "male"]
    assert confusion["matrix"] == [[1, 0], [1, 0]]
    assert confusion["model_accuracy"] == 0.5


def test_the_cli_prints_the_same_figures(tmp_path, capsys) -> None:
    from maskface.face import Prediction
    from maskface.labels import LabelStore

    store = LabelStore(tmp_path / "labels")
    crop = np.full((32, 32, 3), 120, np.uint8)
    for labeler in ("ann00000", "bob00000"):
        store.add(crop, "mask", "with_mask", labeler_id=labeler, consent=True, prediction=Prediction("without_mask", 0.6))
    expected = progress(store.records()).to_dict()
    store.close()
    assert cli.main(["labels", "progress", "--labels-dir", str(tmp_path / "labels")]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed == json.loads(json.dumps(expected))
    assert printed["per_task"]["mask"]["percent_agreement"] == 1.0
    assert printed["confusion"]["mask"]["matrix"] == [[0, 1], [0, 0]]  # agreed with_mask, model said without_mask
