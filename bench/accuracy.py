"""Accuracy of every shipped model on its protocol (``../shared/data/README.md``), measured afresh.

* MASK, each shipped mask model: through the CLI, ``predict --assume-face``
  on ``mask/test`` (:mod:`bench.mask_accuracy`).
* GENDER-M and GENDER-R: the ``gender`` part (:mod:`bench.gender`).
* ID-M, each shipped identity model: :func:`training.evaluate.evaluate_identity`,
  which enrols as the product does; skipped with a note while none is shipped. The
  baselines measured earlier (dlib, frozen ImageNet MobileNetV2; dlib needs an
  environment of its own) are read from ``bench/results/idm_*.json``.

    python -m bench accuracy [--quick] [--out bench/results/accuracy.json]

``--quick`` measures MASK only (ID-M takes minutes per model).
"""

from __future__ import annotations

import json
import logging
from pathlib import Path


from .photos import DEFAULT_DATA

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "bench" / "results"
DEFAULT_OUT = RESULTS / "accuracy.json"
IDM_BASELINES = {
    "dlib ResNet (baseline)": "idm_dlib.json",
    "frozen ImageNet MobileNetV2 (baseline)": "idm_frozen_mobilenetv2.json",
}

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


def idm_figures(models: list[str], data: Path) -> dict[str, dict]:
    """ID-M of each identity model, enrolling as the product does (``training.evaluate.evaluate_identity``)."""
    from maskface.store import load_model
    from training.evaluate import evaluate_identity

    results = {}
    for model in models:
        report = evaluate_identity(load_model(model), model, str(data / "lfw"))
        results[model] = {k: v for k, v in report.items() if k != "fallback_files"}
    return results


def idm_baselines() -> dict[str, dict]:
    """The ID-M baselines measured by their own commands, as stored in ``bench/results``."""
    found = {}
    for name, file in IDM_BASELINES.items():
        path = RESULTS / file
        if path.is_file():
            report = json.loads(path.read_text())
            found[name] = {k: v for k, v in report.items() if k != "fallback_files"} | {"from": f"bench/results/{file}"}
    return found


def run(quick: bool = False, data: Path = DEFAULT_DATA) -> dict:
    """Every accuracy figure of this module, as one JSON-ready dict."""
    by_task = shipped_by_task()
    report: dict = {"quick": quick, "notes": [], "MASK": mask_figures(by_task.get("mask", []), data)}
    if quick:
        report["notes"].append("quick run: ID-M not measured")
        return report
    identity = by_task.get("identity", [])
    if not identity:
        report["notes"].append("no identity model is shipped in models/: ID-M shows the stored baselines only")
    report["ID-M"] = idm_figures(identity, data)
    report["ID-M baselines"] = idm_baselines()
    return report


def main(argv: list[str] | None = None) -> int:
    from .report import part_main

    return part_main(__doc__, run, DEFAULT_OUT, DEFAULT_DATA, "MASK only", argv)
