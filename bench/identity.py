"""Recognition of every shipped identity model on ID-M and ID-M-1 (``../shared/data/README.md``), measured afresh.

:func:`training.evaluate.evaluate_identity` enrols as the product does (each
bare gallery photo plus two simulated-mask copies) and tells masked faces from
bare ones with the shipped mask model: ID-M enrols each person's first two
photos, ID-M-1 the first only, for the same probes (the person seen later, in
other poses and light). The baselines measured by their own commands (dlib
needs an environment of its own: ``bench/dlib_baseline.py``; the frozen ImageNet
MobileNetV2: ``python -m training idm``) are read from ``bench/results/idm_*.json``.

    python -m bench identity [--out bench/results/identity.json]
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

from .accuracy import shipped_by_task
from .photos import DEFAULT_DATA

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "bench" / "results"
DEFAULT_OUT = RESULTS / "identity.json"
IDM_BASELINES = {
    "dlib ResNet (baseline)": "idm_dlib.json",
    "frozen ImageNet MobileNetV2 (baseline)": "idm_frozen_mobilenetv2.json",
}

log = logging.getLogger(__name__)


def idm_figures(models: list[str], data: Path) -> dict[str, dict]:
    """ID-M and ID-M-1 of each identity model (``training.evaluate.evaluate_identity``)."""
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
    """Every recognition figure of this module, as one JSON-ready dict (``quick`` changes nothing: ID-M is one run)."""
    identity = shipped_by_task().get("identity", [])
    notes = [] if identity else ["no identity model is shipped in models/: only the stored baselines are shown"]
    return {"notes": notes, "ID-M": idm_figures(identity, data), "ID-M baselines": idm_baselines()}


def main(argv: list[str] | None = None) -> int:
    from .report import part_main

    return part_main(__doc__, run, DEFAULT_OUT, DEFAULT_DATA, "no effect (ID-M is measured in full)", argv)
