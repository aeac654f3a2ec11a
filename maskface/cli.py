"""``python -m maskface``: the command-line face of :class:`maskface.analyzer.Analyzer`.

``predict`` prints one JSON object per input image, one per line, on stdout;
logs go to stderr. The exit code is 2 when any input could not be read.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys

from .detect import DETECTORS


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m maskface", description="Masked-face analysis.")
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress to stderr")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("predict", help="analyze images; one JSON line per image")
    p.add_argument("inputs", nargs="+", metavar="IMAGE_OR_DIR", help="image files or folders (read recursively)")
    p.add_argument("--assume-face", action="store_true", help="each input is already a face crop: skip detection")
    p.add_argument("--mask-model", default=None, help="shipped model name, model folder or hf://org/repo")
    p.add_argument("--detector", choices=DETECTORS, default="auto", help="face detector setting (default: auto)")

    sub.add_parser("models", help="list the shipped models and their measured figures")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, stream=sys.stderr)
    if args.command == "models":
        return _list_models()
    return _predict(args)


def _predict(args: argparse.Namespace) -> int:
    from .analyzer import Analyzer
    from .image import iter_image_files
    from .store import ModelNotFoundError

    try:
        analyzer = Analyzer(models={"mask": args.mask_model} if args.mask_model else None, detector=args.detector)
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
