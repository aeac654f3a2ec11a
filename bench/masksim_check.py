"""Do the mask models see simulated masks as masks, and bare LFW faces as bare?

Two checks in one run, on photos from a source the mask models never saw
(LFW press photos): the share of faces with a simulated mask called
``with_mask`` (the simulator is realistic enough to train on only if this is
high) and the share of the same faces, bare, called ``without_mask``.

    python -m bench masksim-check [--model mask-mobilenetv2] [--n 400] [--out bench/results/masksim_check.json]
"""

from __future__ import annotations

import argparse
import csv
import json
import random
from pathlib import Path

from tqdm.auto import tqdm

from maskface.analyzer import Analyzer
from maskface.crops import locate_face
from maskface.detect import make_detector
from maskface.face import Face
from maskface.image import load_image
from maskface.masksim import simulate_mask

ROOT = Path(__file__).resolve().parents[1]
LFW = ROOT.parent / "shared" / "data" / "lfw"


def check(model: str, n: int, seed: int = 0) -> dict:
    """Rates over ``n`` LFW test photos (fixed random choice), each masked with its own seed."""
    with open(LFW / "metadata.csv", newline="") as f:
        files = sorted(row["file_name"] for row in csv.DictReader(f) if row["split"] == "test")
    chosen = random.Random(seed).sample(files, n)
    analyzer = Analyzer(models={"mask": model})
    stored = analyzer.models["mask"]
    detector = make_detector("auto")
    masked_hits = bare_hits = 0
    for i, name in enumerate(tqdm(chosen, desc=f"{model}", unit="img")):
        pixels = load_image(LFW / name)
        located = locate_face(pixels, detector)
        face = [Face(box=located.box, score=1.0)]
        masked = simulate_mask(pixels, located.keypoints, located.box, rng=seed + i)
        masked_hits += analyzer.classify(stored, masked, face, assume_face=False)[0].label == "with_mask"
        bare_hits += analyzer.classify(stored, pixels, face, assume_face=False)[0].label == "without_mask"
    return {
        "model": model,
        "images": n,
        "simulated_masks_called_with_mask": round(masked_hits / n, 4),
        "bare_faces_called_without_mask": round(bare_hits / n, 4),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", action="append", help="mask model source (repeatable; default: both shipped)")
    parser.add_argument("--n", type=int, default=400, help="number of LFW test photos")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "masksim_check.json")
    args = parser.parse_args(argv)
    results = [check(model, args.n) for model in args.model or ["mask-mobilenetv2", "mask-cnn"]]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=1) + "\n")
    print(json.dumps(results, indent=1))
    return 0
