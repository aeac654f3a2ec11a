"""MASK protocol figures measured through the CLI, exactly as outside checks run it.

``python -m bench mask-accuracy [--model mask-mobilenetv2] [--data ../shared/data/mask]``
runs ``python -m maskface predict --assume-face --mask-model MODEL <data>/test`` in a
subprocess, scores its JSON lines against the folder labels, and writes
``bench/results/mask_cli_<model>.json``.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import numpy as np

from maskface.tasks import TASKS
from training.evaluate import figures

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = ROOT.parent / "shared" / "data" / "mask"


def score_cli(model: str, data: Path) -> dict:
    """Run the CLI on ``data/test`` and compute accuracy, ROC AUC and the confusion matrix."""
    task = TASKS["mask"]
    cmd = [sys.executable, "-m", "maskface", "predict", "--assume-face", "--mask-model", model, str(data / "test")]
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, check=False)
    if proc.returncode not in (0, 2):
        raise RuntimeError(f"the CLI failed ({proc.returncode}):\n{proc.stderr[-2000:]}")
    truth, prob, errors = [], [], []
    for line in proc.stdout.splitlines():
        result = json.loads(line)
        if result["error"]:
            errors.append(result["image"])
            continue
        mask = result["faces"][0]["mask"]
        truth.append(task.labels.index(Path(result["image"]).parent.name))
        prob.append(mask["score"] if mask["label"] == task.positive else 1 - mask["score"])
    report = figures(np.asarray(truth), np.asarray(prob), task.labels, task.labels.index(task.positive))
    return report | {"protocol": "MASK", "split": "test", "model": model, "errors": errors, "command": " ".join(cmd[1:])}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", action="append", help="model source (repeatable; default: both shipped)")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--out-dir", type=Path, default=ROOT / "bench" / "results")
    args = parser.parse_args(argv)
    args.out_dir.mkdir(parents=True, exist_ok=True)
    for model in args.model or ["mask-mobilenetv2", "mask-cnn"]:
        report = score_cli(model, args.data)
        (args.out_dir / f"mask_cli_{Path(model).name}.json").write_text(json.dumps(report, indent=1) + "\n")
        print(f"{model}: accuracy {report['accuracy']:.4f}, ROC AUC {report['roc_auc']:.4f}, n={report['n']}, "
              f"confusion {report['confusion_matrix']}")
    return 0
