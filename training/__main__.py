"""``python -m training train|evaluate``: retrain and measure the models."""

from __future__ import annotations

import argparse
import json
import logging
import sys

from maskface.architectures import ARCHITECTURES
from maskface.tasks import TASKS

from .data import BALANCE_METHODS


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m training", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    t = sub.add_parser("train", help="train a model and save it with its spec")
    t.add_argument("--task", choices=sorted(TASKS), required=True)
    t.add_argument("--arch", choices=ARCHITECTURES, required=True)
    t.add_argument("--data", required=True, help="imagefolder directory or Hub dataset id")
    t.add_argument("--out", required=True, help="folder to write the model to")
    t.add_argument("--epochs", type=int, default=12, help="epochs from scratch, or of the head phase")
    t.add_argument("--fine-tune-epochs", type=int, default=8, help="epochs with the backbone's top unfrozen")
    t.add_argument("--batch-size", type=int, default=32)
    t.add_argument("--learning-rate", type=float, default=1e-3)
    t.add_argument("--input-size", type=int, help="crop side in pixels (default: the architecture's)")
    t.add_argument("--balance", choices=BALANCE_METHODS, default="none")
    t.add_argument("--weights", default="auto", help="backbone weights: auto, imagenet, none, or a .weights.h5 path")
    t.add_argument("--seed", type=int, default=1234)
    t.add_argument("--limit", type=int, help="use at most this many training images")
    t.add_argument(
        "--framing",
        choices=("whole", "detect"),
        default="whole",
        help="whole: images are face crops; detect: crop around the detected face (e.g. LFW)",
    )
    t.add_argument("--masked-fraction", type=float, default=0.0, help="with --framing detect: share of images masked")
    t.add_argument("--cache-dir", default=".cache/maskface", help="where decoded training arrays are cached")
    t.add_argument("--init-from", help="start from this saved model's weights (same task, architecture and size)")
    t.add_argument("--no-evaluate", action="store_true", help="skip the test-split evaluation and model card")

    e = sub.add_parser("evaluate", help="the model's protocol figures (accuracy, ROC AUC, confusion matrix) on a split")
    e.add_argument("--model", required=True, help="model folder, shipped name or hf://org/repo")
    e.add_argument("--data", required=True, help="imagefolder directory or Hub dataset id")
    e.add_argument("--split", default="test")
    e.add_argument("--write", action="store_true", help="store the figures in the model's spec and card")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    if args.command == "train":
        from .train import TrainConfig, train

        out = train(
            TrainConfig(
                task=args.task,
                arch=args.arch,
                data=args.data,
                out=args.out,
                epochs=args.epochs,
                fine_tune_epochs=args.fine_tune_epochs,
                batch_size=args.batch_size,
                learning_rate=args.learning_rate,
                input_size=args.input_size,
                balance=args.balance,
                weights=None if args.weights == "none" else args.weights,
                seed=args.seed,
                limit=args.limit,
                framing=args.framing,
                masked_fraction=args.masked_fraction,
                cache_dir=args.cache_dir or None,
                init_from=args.init_from,
            )
        )
        if not args.no_evaluate:
            return main(["evaluate", "--model", str(out), "--data", args.data, "--write"])
        return 0

    from .evaluate import evaluate

    report = evaluate(args.model, args.data, args.split, write=args.write)
    json.dump(report, sys.stdout, indent=2)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
