"""Accuracy of every shipped model on its protocol (``../shared/data/README.md``), measured afresh.

* MASK, each shipped mask model: through the CLI, ``predict --assume-face``
  on ``mask/test`` (:mod:`bench.mask_accuracy`).
* GENDER-M, each shipped gender model: :func:`training.evaluate.evaluate` on
  LFW ``split=test``, masked and bare. It runs on a copy of the model folder,
  since it draws confusion-matrix PNGs beside the model.

Recognition (ID-M) is its own part, :mod:`bench.identity`.

    python -m bench accuracy [--quick] [--out bench/results/accuracy.json]

``--quick`` measures MASK only (GENDER-M takes minutes per model).
"""

from __future__ import annotations

import logging
import shutil
import tempfile
from pathlib import Path


from .photos import DEFAULT_DATA

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "bench" / "results"
DEFAULT_OUT = RESULTS / "accuracy.json"

log = logging.getLogger(__name__)


def shipped_by_task() -> dict[str, list[str]]:
    """Shipped model names per task."""
    from maskface.store import read_spec, resolve, shipped_models

    by_task: dict[str, list[str]] = {}
    for name in shipped_models():
        by_task.setdefault(read_spec(resolve(name)).task, []).append(name)
    return by_task


def mask_figures(models: list[str], data: Path) -> dict[str, dict]:
    from .mask_accuracy import score_cli

    return {model: score_cli(model, data / "mask") for model in models}


def gender_figures(models: list[str], data: Path) -> dict[str, dict]:
    from maskface.store import resolve
    from training.evaluate import evaluate

    results = {}
    for model in models:
        with tempfile.TemporaryDirectory(prefix="maskface-eval-") as tmp:
            copy = shutil.copytree(resolve(model), Path(tmp) / model)
            report = evaluate(str(copy), str(data / "lfw"), "test")
        results[model] = {condition: report[f"GENDER-M {condition}"] for condition in ("masked", "unmasked")}
    return results


def run(quick: bool = False, data: Path = DEFAULT_DATA) -> dict:
    """Every accuracy figure of this module, as one JSON-ready dict."""
    by_task = shipped_by_task()
    report: dict = {"quick": quick, "notes": [], "MASK": mask_figures(by_task.get("mask", []), data)}
    if quick:
        report["notes"].append("quick run: GENDER-M not measured")
        return report
    report["GENDER-M"] = gender_figures(by_task.get("gender", []), data)
    return report


def main(argv: list[str] | None = None) -> int:
    from .report import part_main

    return part_main(__doc__, run, DEFAULT_OUT, DEFAULT_DATA, "MASK only", argv)
