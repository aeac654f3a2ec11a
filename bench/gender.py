"""Gender accuracy of every shipped gender model, on both protocols, measured afresh.

* GENDER-M (LFW ``split=test`` with simulated masks, and bare): :func:`training.evaluate.evaluate`.
* GENDER-R (real masked faces of ``mask/test``, labelled by people, ``data/labels/gender-real``):
  :func:`training.gender_r.evaluate`, each photo through the analyzer as ``predict`` runs it;
  balanced accuracy, ROC AUC and expected calibration error, with and without the model's
  calibration (temperature and offsets).

    python -m bench gender [--quick] [--out bench/results/gender.json]

``--quick`` measures GENDER-R only.
"""

from __future__ import annotations

from pathlib import Path

from .accuracy import RESULTS, shipped_by_task
from .photos import DEFAULT_DATA

DEFAULT_OUT = RESULTS / "gender.json"


def gender_m(models: list[str], data: Path) -> dict[str, dict]:
    from training.evaluate import evaluate

    results = {}
    for model in models:
        report = evaluate(model, str(data / "lfw"), "test")
        results[model] = {condition: report[f"GENDER-M {condition}"] for condition in ("masked", "unmasked")}
    return results


def gender_r(models: list[str], data: Path) -> dict[str, dict]:
    from maskface.labelset import DEFAULT_DATASET
    from maskface.store import load_model
    from training import gender_r

    return {model: gender_r.evaluate(load_model(model), DEFAULT_DATASET, data, "test") for model in models}


def run(quick: bool = False, data: Path = DEFAULT_DATA) -> dict:
    models = shipped_by_task().get("gender", [])
    report: dict = {"quick": quick, "GENDER-R": gender_r(models, data)}
    if not quick:
        report["GENDER-M"] = gender_m(models, data)
    return report


def main(argv: list[str] | None = None) -> int:
    from .report import part_main

    return part_main(__doc__, run, DEFAULT_OUT, DEFAULT_DATA, "GENDER-R only", argv)


if __name__ == "__main__":
    raise SystemExit(main())
