"""Accuracy of the shipped mask models, measured afresh, for ``BENCHMARKS.md``.

* MASK, each shipped mask model: through the CLI, ``predict --assume-face``
  on ``mask/test`` (:mod:`bench.mask_accuracy`).

Gender (GENDER-M and GENDER-R) is the ``gender`` part (:mod:`bench.gender`),
recognition (ID-M, ID-M-1) the ``identity`` part (:mod:`bench.identity`).

    python -m bench accuracy [--out bench/results/accuracy.json]
"""

from __future__ import annotations

import logging
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


def run(quick: bool = False, data: Path = DEFAULT_DATA) -> dict:
    """Every accuracy figure of this module, as one JSON-ready dict."""
    by_task = shipped_by_task()
    return {"quick": quick, "notes": [], "MASK": mask_figures(by_task.get("mask", []), data)}


def main(argv: list[str] | None = None) -> int:
    from .report import part_main

    return part_main(__doc__, run, DEFAULT_OUT, DEFAULT_DATA, "no effect (MASK is measured in full)", argv)
