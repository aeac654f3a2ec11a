"""dlib's face descriptors of bare training faces: the targets the identity student learns to produce.

Distillation needs no identity labels: the student (``training.distill``)
sees a face, often with a simulated mask, and must output the 128-D descriptor
that dlib's ResNet gives the same face bare. dlib is not a project dependency,
so this script runs in an environment of its own (see ``bench/dlib_baseline.py``):

    /tmp/dlibenv/bin/python training/dlib_teacher.py OUT.npz DATA_DIR [DATA_DIR ...] [--shard K/N]

Each DATA_DIR holds bare faces: LFW (its ``metadata.csv``; only ``split=train``
rows, so test people never reach training) or a plain folder of images such as
``mask/train/without_mask``. Writes ``files`` (the paths as given),
``descriptors`` (N, 128) float32 and ``hog``, whether dlib's own detector found
the face (else the central square is used).

dlib's descriptor takes a fifth of a second per face on one core, so the work
is ordered to be useful early and safe to stop: people take turns (everyone's
first photo, then everyone's second, ...), the output is rewritten every
``--save-every`` faces, and a rerun continues where the file stops.
``--shard K/N`` takes every N-th face from the K-th, so N processes share the
work (``python -m training train --task identity --teacher PART ...`` reads all the parts).
"""

from __future__ import annotations

import argparse
import csv
import logging
import sys
from collections import defaultdict
from itertools import zip_longest
from pathlib import Path

import dlib
import face_recognition_models
import numpy as np
from PIL import Image, ImageOps

log = logging.getLogger("dlib_teacher")
SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".bmp"}
# LFW's face is about the central 70-90 px of 150; other sets are face crops: the central 80% is used.
CENTRAL_FRACTION = 0.6


def training_files(data_dir: Path) -> list[Path]:
    """Every training image of the folder."""
    metadata = data_dir / "metadata.csv"
    if metadata.is_file():
        with open(metadata, newline="") as f:
            return [data_dir / row["file_name"] for row in csv.DictReader(f) if row.get("split", "train") == "train"]
    return sorted(p for p in data_dir.rglob("*") if p.suffix.lower() in SUFFIXES)


def taking_turns(paths: list[Path]) -> list[Path]:
    """The paths reordered so that each person gives one photo per round.

    An LFW person is a folder; a face in a plain folder of faces is its own person.
    """
    by_folder: dict[Path, list[Path]] = defaultdict(list)
    for path in paths:
        by_folder[path.parent if (path.parents[2] / "metadata.csv").is_file() else path].append(path)
    rounds = zip_longest(*by_folder.values())
    return [path for round_ in rounds for path in round_ if path is not None]


def save(out: Path, files: list[str], descriptors: list[np.ndarray], hog: list[bool]) -> None:
    tmp = out.with_suffix(".tmp.npz")
    np.savez(tmp, files=np.array(files), descriptors=np.stack(descriptors), hog=np.array(hog))
    tmp.replace(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("data", type=Path, nargs="+")
    parser.add_argument("--shard", default="0/1", help="K/N: describe faces K, K+N, K+2N, ... (default: all)")
    parser.add_argument("--save-every", type=int, default=200)
    args = parser.parse_args(argv)
    shard, shards = (int(part) for part in args.shard.split("/"))
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)

    files: list[str] = []
    descriptors: list[np.ndarray] = []
    hog: list[bool] = []
    if args.out.is_file():
        with np.load(args.out) as saved:
            files, descriptors, hog = list(map(str, saved["files"])), list(saved["descriptors"]), list(saved["hog"])
    done = set(files)
    paths = taking_turns([path for data_dir in args.data for path in training_files(data_dir)])[shard::shards]
    todo = [path for path in paths if str(path) not in done]
    log.info("shard %d/%d: %d faces, %d already described", shard, shards, len(paths), len(paths) - len(todo))

    detector = dlib.get_frontal_face_detector()
    landmarks = dlib.shape_predictor(face_recognition_models.pose_predictor_five_point_model_location())
    encoder = dlib.face_recognition_model_v1(face_recognition_models.face_recognition_model_location())
    for i, path in enumerate(todo, start=1):
        image = np.asarray(ImageOps.exif_transpose(Image.open(path)).convert("RGB"))
        height, width = image.shape[:2]
        found = detector(image, 1)
        if len(found):
            cx, cy = width / 2, height / 2
            box = min(found, key=lambda r: np.hypot((r.left() + r.right()) / 2 - cx, (r.top() + r.bottom()) / 2 - cy))
        else:
            side = int(min(width, height) * (CENTRAL_FRACTION if width == 150 == height else 0.8))
            left, top = (width - side) // 2, (height - side) // 2
            box = dlib.rectangle(left, top, left + side, top + side)
        descriptors.append(np.asarray(encoder.compute_face_descriptor(image, landmarks(image, box)), np.float32))
        files.append(str(path))
        hog.append(bool(len(found)))
        if i % args.save_every == 0 or i == len(todo):
            save(args.out, files, descriptors, hog)
            log.info("%d / %d described", len(files), len(paths))
    log.info("%s: %d descriptors, dlib found %d faces itself", args.out, len(files), sum(hog))
    return 0


if __name__ == "__main__":
    sys.exit(main())
