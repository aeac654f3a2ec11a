"""``python -m maskface``: the command-line face of :class:`maskface.analyzer.Analyzer`.

- ``predict`` prints one JSON object per input image, one per line, on
  stdout; logs go to stderr. The exit code is 2 when any input could not be read.
- ``models`` lists the shipped models with their measured figures.
- ``simulate-mask`` writes copies of a folder's images with simulated masks.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from .detect import DETECTORS
from .masksim import STYLES
from .tasks import TASKS


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m maskface", description="Masked-face analysis.")
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress to stderr")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("predict", help="analyze images; one JSON line per image")
    p.add_argument("inputs", nargs="+", metavar="IMAGE_OR_DIR", help="image files or folders (read recursively)")
    p.add_argument("--assume-face", action="store_true", help="each input is already a face crop: skip detection")
    for task in TASKS:
        p.add_argument(f"--{task}-model", help=f"{task} model: shipped name, model folder or hf://org/repo[@revision]")
    p.add_argument("--detector", choices=DETECTORS, default="auto", help="face detector setting (default: auto)")

    sub.add_parser("models", help="list the shipped models and their measured figures")

    p = sub.add_parser("simulate-mask", help="draw simulated masks on the faces in a folder's images")
    p.add_argument("in_dir", type=Path, metavar="IN_DIR", help="folder of images (read recursively)")
    p.add_argument("out_dir", type=Path, metavar="OUT_DIR", help="folder for the masked copies and manifest.csv")
    p.add_argument("--styles", nargs="+", choices=STYLES, default=list(STYLES), help="mask styles to draw from")
    p.add_argument("--seed", type=int, default=0, help="image number i is masked with seed + i (default: 0)")
    p.add_argument("--detector", choices=DETECTORS, default="auto", help="face detector setting (default: auto)")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, stream=sys.stderr)
    if args.command == "models":
        return _list_models()
    if args.command == "simulate-mask":
        return _simulate_masks(args)
    return _predict(args)


def _predict(args: argparse.Namespace) -> int:
    from .analyzer import DEFAULT_MODELS, Analyzer
    from .image import iter_image_files
    from .store import ModelNotFoundError

    try:
        chosen = {task: getattr(args, f"{task}_model") for task in TASKS}
        models = {**DEFAULT_MODELS, **{task: source for task, source in chosen.items() if source}}
        analyzer = Analyzer(models=models, detector=args.detector)
    except ModelNotFoundError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    failed = False
    for result in analyzer.analyze_many(iter_image_files(args.inputs), assume_face=args.assume_face):
        failed = failed or result.error is not None
        print(json.dumps(result.to_dict(), ensure_ascii=False), flush=True)
    return 2 if failed else 0


def _list_models() -> int:
    from .store import read_spec, resolve, shipped_models

    for name in shipped_models():
        spec = read_spec(resolve(name))
        print(json.dumps({"name": name, "task": spec.task, "arch": spec.arch, "metrics": spec.metrics}))
    return 0


def _simulate_masks(args: argparse.Namespace) -> int:
    """Write a masked copy of every image under IN_DIR with a face to OUT_DIR
    (same relative path; JPEG and PNG keep their format, others become PNG)
    and list every image in OUT_DIR/manifest.csv: faces masked, styles, seed,
    or the error. Exit code 2 when any image could not be read."""
    import csv

    from PIL import Image
    from tqdm import tqdm

    from .detect import make_detector
    from .image import ImageError, iter_image_files, load_image
    from .masksim import mask_faces_with_styles

    if not args.in_dir.is_dir():
        print(f"error: not a folder: {args.in_dir}", file=sys.stderr)
        return 1
    out_dir = args.out_dir.resolve()
    sources = [path for path in iter_image_files([args.in_dir]) if out_dir not in path.resolve().parents]
    detector = make_detector(args.detector)
    args.out_dir.mkdir(parents=True, exist_ok=True)
    failed = False
    with open(args.out_dir / "manifest.csv", "w", newline="", encoding="utf-8") as manifest:
        writer = csv.writer(manifest)
        writer.writerow(["source", "output", "faces", "styles", "seed", "error"])
        for index, source in enumerate(tqdm(sources, desc="simulate-mask", unit="image")):
            relative, seed = source.relative_to(args.in_dir), args.seed + index
            try:
                image = load_image(source)
            except ImageError as err:
                failed = True
                writer.writerow([relative.as_posix(), "", 0, "", seed, str(err)])
                continue
            faces = detector.detect(image)
            if not faces:
                writer.writerow([relative.as_posix(), "", 0, "", seed, ""])
                continue
            masked, styles = mask_faces_with_styles(image, faces, args.styles, seed)
            jpeg = relative.suffix.lower() in (".jpg", ".jpeg")
            output = relative if jpeg or relative.suffix.lower() == ".png" else relative.with_suffix(".png")
            (args.out_dir / output).parent.mkdir(parents=True, exist_ok=True)
            Image.fromarray(masked).save(args.out_dir / output, **({"quality": 92} if jpeg else {}))
            writer.writerow([relative.as_posix(), output.as_posix(), len(faces), ";".join(styles), seed, ""])
    return 2 if failed else 0
