"""``python -m training train|evaluate|push``: retrain, measure and publish the models."""

from __future__ import annotations

import argparse
import json
import logging
import sys

from maskface.architectures import ARCHITECTURES
from maskface.tasks import TRAINABLE

from .data import BALANCE_METHODS

log = logging.getLogger("training")

# The exit code of a run stopped by Ctrl-C (SIGINT), as shells report it.
INTERRUPTED = 130


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m training", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    t = sub.add_parser("train", help="train a model and save it with its spec; rerun the same command to resume")
    t.add_argument("--task", choices=TRAINABLE, required=True)
    t.add_argument("--arch", choices=ARCHITECTURES, required=True)
    t.add_argument("--data", required=True, help="imagefolder directory or Hub dataset id")
    t.add_argument("--labels", help="the labeling tab's dataset (folder or Hub dataset id) to merge in")
    t.add_argument("--held-out", type=float, default=0.2, help="share of each class of --labels kept for evaluation")
    t.add_argument("--out", required=True, help="folder to write the model to (an interrupted run there resumes)")
    t.add_argument("--epochs", type=int, default=12, help="epochs from scratch, or of the head phase")
    t.add_argument("--fine-tune-epochs", type=int, default=8, help="epochs with the backbone's top unfrozen")
    t.add_argument("--batch-size", type=int, default=32, help="per replica (GPU): the global batch scales with them")
    t.add_argument("--learning-rate", type=float, default=1e-3)
    t.add_argument("--input-size", type=int, help="crop side in pixels (default: the architecture's)")
    t.add_argument("--balance", choices=BALANCE_METHODS, default="none")
    t.add_argument("--weights", default="auto", help="backbone weights: auto, imagenet, none, or a .weights.h5 path")
    t.add_argument("--seed", type=int, default=1234)
    t.add_argument("--limit", type=int, help="use at most this many base training images")
    t.add_argument(
        "--framing",
        choices=("whole", "detect"),
        default="whole",
        help="whole: images are face crops; detect: crop around the detected face (e.g. LFW)",
    )
    t.add_argument("--masked-fraction", type=float, default=0.0, help="with --framing detect: share of images masked")
    t.add_argument("--cache-dir", default=".cache/maskface", help="where decoded training arrays are cached")
    t.add_argument("--init-from", help="start from this saved model's weights (same task, architecture and size)")
    t.add_argument(
        "--mixed-precision",
        choices=("auto", "on", "off"),
        default="auto",
        help="auto: on with GPUs of compute capability >= 7",
    )
    t.add_argument(
        "--strategy",
        choices=("auto", "one", "mirrored", "multi-worker"),
        default="auto",
        help="auto: multi-worker when TF_CONFIG is set, mirrored on several GPUs, else one device",
    )
    t.add_argument(
        "--augment-on", choices=("auto", "pipeline", "model"), default="auto", help="auto: model (the GPU) on GPUs"
    )
    t.add_argument("--no-evaluate", action="store_true", help="skip the test-split evaluation and model card")
    t.add_argument("--push-to", metavar="ORG/REPO[@REV]", help="after evaluation, push the model to this Hub repo")
    t.add_argument("--force", action="store_true", help="with --push-to: push even if the repo's version is better")

    e = sub.add_parser("evaluate", help="the model's protocol figures (accuracy, ROC AUC, confusion matrix) on a split")
    e.add_argument("--model", required=True, help="model folder, shipped name or hf://org/repo")
    e.add_argument("--data", required=True, help="imagefolder directory or Hub dataset id")
    e.add_argument("--split", default="test")
    e.add_argument("--write", action="store_true", help="store the figures in the model's spec and card")

    p = sub.add_parser("push", help="upload a model folder to a Hub repo, unless the repo's version is better")
    p.add_argument("model", help="the model folder")
    p.add_argument("--to", required=True, metavar="ORG/REPO[@REV]", help="the Hub model repo")
    p.add_argument("--force", action="store_true", help="push even if the repo's version is better or not comparable")
    return parser


def _train(args: argparse.Namespace) -> int:
    from .train import TrainConfig, train

    if args.push_to and args.no_evaluate and not args.force:
        raise SystemExit("--push-to needs the evaluation (drop --no-evaluate) or --force")
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
            labels=args.labels,
            held_out_fraction=args.held_out,
            mixed_precision=args.mixed_precision,
            strategy=args.strategy,
            augment_on=args.augment_on,
        )
    )
    if out is None:  # a multi-worker cluster's other workers: the chief evaluates and pushes
        return 0
    if not args.no_evaluate:
        _evaluate(argparse.Namespace(model=str(out), data=args.data, split="test", write=True))
    if args.push_to:
        return _push(argparse.Namespace(model=str(out), to=args.push_to, force=args.force))
    return 0


def _evaluate(args: argparse.Namespace) -> int:
    from .evaluate import evaluate

    report = evaluate(args.model, args.data, args.split, write=args.write)
    json.dump(report, sys.stdout, indent=2)
    print()
    return 0


def _push(args: argparse.Namespace) -> int:
    from .push import PushRefused, push

    try:
        url = push(args.model, args.to, force=args.force)
    except PushRefused as refused:
        log.error("not pushed: %s", refused)
        return 1
    print(url)
    return 0


COMMANDS = {"train": _train, "evaluate": _evaluate, "push": _push}


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s", datefmt="%H:%M:%S"
    )
    try:
        return COMMANDS[args.command](args)
    except KeyboardInterrupt:
        if args.command != "train":
            raise
        log.error("interrupted: run the same command again to resume from the last finished epoch")
        return INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
