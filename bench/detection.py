"""Face-detection rate of each detector setting on the mask data set.

For every setting in ``maskface.detect.DETECTORS`` this measures the share of
images in which at least one face is found, per class (``with_mask``,
``without_mask``) and split (train, test, all) of ``../shared/data/mask``, the
median milliseconds per image, and the number of synthetic non-face images
(noise, gradients, textures, shapes) in which a "face" is found (false
positives). It writes JSON, prints a Markdown table and lists the
``with_mask`` images where ``auto`` found no face, for inspection.

    python -m bench detection [--data DIR] [--out bench/results/detection.json] [--limit N]
"""

from __future__ import annotations

import argparse
import csv
import json
import logging
import os
import platform
import statistics
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter
from tqdm import tqdm

from maskface.detect import DETECTORS, Detector, make_detector

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA = REPO.parent / "shared" / "data" / "mask"
DEFAULT_OUT = REPO / "bench" / "results" / "detection.json"
CLASSES = ("with_mask", "without_mask")
SPLITS = ("train", "test")
N_NEGATIVES = 50

log = logging.getLogger(__name__)


def load_manifest(data: Path, limit: int | None) -> list[dict[str, str]]:
    """Manifest rows, at most ``limit`` per split and class (in file order)."""
    with open(data / "manifest.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    if limit is None:
        return rows
    kept: list[dict[str, str]] = []
    for split in SPLITS:
        for label in CLASSES:
            kept += [r for r in rows if r["split"] == split and r["label"] == label][:limit]
    return kept


def negative_images(n: int = N_NEGATIVES, seed: int = 0) -> Iterator[np.ndarray]:
    """``n`` synthetic RGB images that contain no face: noise, blurred noise,
    gradients, stripes, checkerboards and random shapes, of varied sizes."""
    rng = np.random.default_rng(seed)
    for i in range(n):
        h, w = (int(v) for v in rng.integers(96, 480, size=2))
        kind = i % 6
        if kind == 0:
            img = Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8))
        elif kind == 1:
            noise = Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8))
            img = noise.filter(ImageFilter.GaussianBlur(float(rng.uniform(2, 12))))
        elif kind == 2:
            yy, xx = np.mgrid[0:h, 0:w] / max(h, w)
            a, b = rng.uniform(-1, 1, size=(2, 3))
            img = Image.fromarray(np.clip(127 + 127 * (a * xx[..., None] + b * yy[..., None]), 0, 255).astype(np.uint8))
        elif kind == 3:
            period, angle = rng.uniform(4, 40), rng.uniform(0, np.pi)
            yy, xx = np.mgrid[0:h, 0:w]
            wave = np.sin((xx * np.cos(angle) + yy * np.sin(angle)) * 2 * np.pi / period)
            colours = rng.integers(0, 256, size=(2, 3))
            img = Image.fromarray(np.where(wave[..., None] > 0, colours[0], colours[1]).astype(np.uint8))
        elif kind == 4:
            cell = int(rng.integers(6, 48))
            yy, xx = np.mgrid[0:h, 0:w]
            board = ((yy // cell + xx // cell) % 2).astype(bool)
            img = Image.fromarray(np.where(board[..., None], 230, 25).astype(np.uint8).repeat(3, axis=2))
        else:
            img = Image.new("RGB", (w, h), tuple(int(c) for c in rng.integers(0, 256, 3)))
            draw = ImageDraw.Draw(img)
            for _ in range(int(rng.integers(3, 15))):
                x0, x1 = sorted(int(v) for v in rng.integers(0, w, 2))
                y0, y1 = sorted(int(v) for v in rng.integers(0, h, 2))
                fill = tuple(int(c) for c in rng.integers(0, 256, 3))
                (draw.ellipse if rng.random() < 0.5 else draw.rectangle)([x0, y0, x1, y1], fill=fill)
        yield np.asarray(img.convert("RGB"))


def run_detector(detector: Detector, images: list[tuple[str, np.ndarray]]) -> tuple[dict[str, int], list[float]]:
    """Faces found per image key and milliseconds per image."""
    detector.detect(images[0][1])  # warm-up: model loading is not timed
    counts, times = {}, []
    for key, image in tqdm(images, desc=detector.name, unit="img"):
        start = time.perf_counter()
        counts[key] = len(detector.detect(image))
        times.append((time.perf_counter() - start) * 1000)
    return counts, times


def rates(rows: list[dict[str, str]], counts: dict[str, int]) -> dict[str, dict[str, dict[str, float | int]]]:
    """{class: {split: {n, found, rate}}} with split in train, test, all."""
    table: dict[str, dict[str, dict[str, float | int]]] = {}
    for label in CLASSES:
        table[label] = {}
        for split in (*SPLITS, "all"):
            keys = [r["file_name"] for r in rows if r["label"] == label and split in (r["split"], "all")]
            found = sum(counts[k] > 0 for k in keys)
            table[label][split] = {"n": len(keys), "found": found, "rate": found / len(keys) if keys else float("nan")}
    return table


def markdown(results: dict[str, dict]) -> str:
    """Markdown table: detector x (class, split) detection rates, FP, ms."""
    header = ["detector"] + [f"{c} {s}" for c in CLASSES for s in (*SPLITS, "all")] + ["FP / neg.", "median ms"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for name, res in results.items():
        cells = [f"{100 * res['found'][c][s]['rate']:.2f}%" for c in CLASSES for s in (*SPLITS, "all")]
        fp = res["false_positives"]
        cells += [f"{fp['with_face']} / {fp['n']}", f"{res['median_ms']:.1f}"]
        lines.append("| " + " | ".join([name, *cells]) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="mask data set (with manifest.csv)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="JSON results file")
    parser.add_argument("--limit", type=int, default=None, help="at most N images per split and class")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")

    rows = load_manifest(args.data, args.limit)
    images = [(r["file_name"], np.asarray(Image.open(args.data / r["file_name"]).convert("RGB"))) for r in rows]
    negatives = [(f"negative_{i:02d}", img) for i, img in enumerate(negative_images())]
    log.info("%d images, %d synthetic negatives", len(images), len(negatives))

    results: dict[str, dict] = {}
    misses: list[str] = []
    for name in DETECTORS:
        detector = make_detector(name)
        counts, times = run_detector(detector, images)
        neg_counts, _ = run_detector(detector, negatives)
        results[name] = {
            "found": rates(rows, counts),
            "median_ms": statistics.median(times),
            "false_positives": {
                "n": len(negatives),
                "with_face": sum(c > 0 for c in neg_counts.values()),
                "images": sorted(k for k, c in neg_counts.items() if c),
            },
        }
        if name == "auto":
            misses = sorted(r["file_name"] for r in rows if r["label"] == "with_mask" and counts[r["file_name"]] == 0)

    report = {
        "data": str(args.data),
        "limit_per_split_class": args.limit,
        "n_images": len(images),
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform()},
        "detectors": results,
        "auto_with_mask_misses": misses,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(markdown(results))
    print(f"\n`auto` found no face in {len(misses)} with_mask image(s):")
    print("\n".join(f"- {m}" for m in misses))
    print(f"\nwrote {args.out}")
