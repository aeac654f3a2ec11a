"""``python -m training``: retrain, measure and publish the models; one entry point for every task.

    train        train a model for any task and save it with its spec; evaluate it, write its card, push it
                 (``--task identity`` distils the embedding from dlib's descriptors, ``training/dlib_teacher.py``,
                 or, ``--arch dlib-resnet``, fine-tunes dlib's own network for masked faces)
    evaluate     a saved model's protocol figures (MASK, GENDER-M, ID-CLOSED, ID-M); ``--write`` stores them
    calibrate    refit a saved gender model's calibration on GENDER-R validation; ``--write`` stores it
    embedding-head  fit a gender model's head on the identity embedding, chosen on GENDER-R validation;
                 ``--write`` stores it with its calibration
    push         upload a model folder to a Hub repo, unless the repo's version is better
    idm          ID-M figures of the frozen ImageNet MobileNetV2 baseline embedder
    export-idm   write the masked ID-M probes for tools outside this environment (``bench/dlib_baseline.py``)
    convert-dlib dlib's face-recognition network as Keras weights (``training/dlib_convert.py``)
    export-faces our detector's faces in LFW training photos, for ``training/dlib_template.py``
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import sys
from pathlib import Path

from maskface.labelset import DEFAULT_DATASET, DEFAULT_ROOT
from maskface.matching import DEFAULT_RULE, RULES
from maskface.tasks import TRAINABLE

from .architectures import ARCHITECTURES, DLIB_RESNET
from .augment import AUGMENTATIONS
from .data import BALANCE_METHODS

log = logging.getLogger("training")

# The exit code of a run stopped by Ctrl-C (SIGINT), as shells report it.
INTERRUPTED = 130
IDENTITY = "identity"
# Settings of `train` whose default depends on the task: (classifiers, identity).
TASK_DEFAULTS = {
    "arch": (None, "mobilenetv2"),
    "batch_size": (32, 128),
    "input_size": (None, 112),
    "val_fraction": (0.1, 0.05),
}


def _parser() -> argparse.ArgumentParser:
    from maskface.analyzer import DEFAULT_IDENTITY_MODEL

    from .distill import DistillConfig
    from .protocols import DEFAULT_LFW

    parser = argparse.ArgumentParser(prog="python -m training", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)

    t = sub.add_parser("train", help="train a model and save it with its spec; rerun the same command to resume")
    t.add_argument("--task", choices=(*TRAINABLE, IDENTITY), required=True)
    t.add_argument("--arch", choices=(*ARCHITECTURES, DLIB_RESNET),
                   help="required for classifiers; identity: mobilenetv2, vgg16 or dlib-resnet")
    t.add_argument("--data", help="imagefolder directory or Hub dataset id (identity: the LFW folder, by default "
                   "../shared/data/lfw)")
    t.add_argument("--labels", help="the labeling tab's dataset (folder or Hub dataset id) to merge in")
    t.add_argument("--held-out", type=float, default=0.2, help="share of each class of --labels kept for evaluation")
    t.add_argument("--labels-root", default=str(DEFAULT_ROOT), help="shared data folder a labels dataset's rows name")
    t.add_argument("--labels-repeat", type=int, default=1, help="times each face of --labels is seen per epoch")
    t.add_argument("--per-person", type=int, help="use at most this many base images per person (identity column)")
    t.add_argument(
        "--mask-styles", choices=("protocol", "more"), default="protocol", help="more: also the training-only styles"
    )
    t.add_argument("--tight-fraction", type=float, default=0.0, help="with --framing detect: share cut close, grey out")
    t.add_argument("--augment", choices=AUGMENTATIONS, default="standard", help="strong: more colour, blur, JPEG, pose")
    t.add_argument("--out", required=True, help="folder to write the model to (an interrupted run there resumes)")
    t.add_argument("--epochs", type=int, default=12, help="epochs from scratch, or of the head phase")
    t.add_argument("--fine-tune-epochs", type=int, default=8, help="epochs with the backbone's top unfrozen")
    t.add_argument("--fine-tune-from", help="the backbone layer (name prefix, e.g. block_6) the fine-tune unfreezes "
                   "from (default: the architecture's: block_13 of MobileNetV2, block4 of VGG16)")
    t.add_argument("--batch-size", type=int, help="per replica (GPU): the global batch scales with them "
                   "(default 32; identity: 128, also the contrastive term's negatives)")
    t.add_argument("--learning-rate", type=float, default=1e-3)
    t.add_argument("--val-fraction", type=float, help="share of the training data kept for validation "
                   "(default 0.1; identity: 0.05)")
    t.add_argument("--input-size", type=int, help="crop side in pixels (default: the architecture's; identity: 112)")
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
    d = t.add_argument_group("identity (distillation of dlib's descriptor of the bare face)")
    defaults = DistillConfig(teacher=[], out="")
    d.add_argument("--teacher", nargs="+", help="the .npz parts written by training/dlib_teacher.py; dlib-resnet: "
                   "dlib's dlib_face_recognition_resnet_model_v1.dat or its .weights.h5 (training.dlib_convert)")
    d.add_argument("--bare-faces", nargs="+", default=defaults.bare_faces, help="more folders of bare faces")
    for name in ("contrastive_weight", "temperature", "bare_fraction"):
        d.add_argument(f"--{name.replace('_', '-')}", type=float, default=getattr(defaults, name))
    d.add_argument("--masked-variants", type=int, default=defaults.masked_variants)
    d.add_argument("--init-weights", help="continue from these .weights.h5 (same architecture and input size)")
    d.add_argument("--no-centre", dest="centre", action="store_false", help="do not centre the teacher's descriptors")

    e = sub.add_parser("evaluate", help="the model's protocol figures (accuracy, ROC AUC, confusion matrix) on a split")
    e.add_argument("--model", required=True, help="model folder, shipped name or hf://org/repo")
    e.add_argument("--data", required=True, help="imagefolder directory or Hub dataset id (identity: the LFW folder)")
    e.add_argument("--split", default="test")
    e.add_argument("--write", action="store_true", help="store the figures (and confusion matrices) in the model's "
                   "spec and card; without it nothing is written")
    e.add_argument("--labels", help="gender models: also GENDER-R on this labels dataset (data/labels/gender-real)")
    e.add_argument("--labels-root", default=str(DEFAULT_ROOT), help="shared data folder the labels' rows name")

    k = sub.add_parser("calibrate", help="refit a gender model's calibration (temperature and offsets) on GENDER-R "
                       "validation, as training fits it")
    k.add_argument("--model", required=True, help="model folder, shipped name or hf://org/repo")
    k.add_argument("--labels", default=str(DEFAULT_DATASET), help="the labels dataset (default: data/labels/gender-real)")
    k.add_argument("--labels-root", default=str(DEFAULT_ROOT), help="shared data folder the labels' rows name")
    k.add_argument("--write", action="store_true", help="store the calibration in the model's spec and card")

    h = sub.add_parser("embedding-head", help="fit a gender model's read-out of the identity embedding, mixed with "
                       "the network, choosing its strength and share on GENDER-R validation")
    h.add_argument("--model", required=True, help="model folder, shipped name or hf://org/repo")
    h.add_argument("--identity", default=DEFAULT_IDENTITY_MODEL, help="the identity model whose embedding it reads "
                   f"(default: {DEFAULT_IDENTITY_MODEL})")
    h.add_argument("--labels", default=str(DEFAULT_DATASET), help="the labels dataset (default: data/labels/gender-real)")
    h.add_argument("--labels-root", default=str(DEFAULT_ROOT), help="shared data folder the labels' rows name")
    h.add_argument("--lfw", type=Path, default=DEFAULT_LFW, help="the LFW folder (default: ../shared/data/lfw)")
    h.add_argument("--cache-dir", type=Path, default=Path(".cache/maskface"), help="where the training embeddings "
                   "are kept between runs (default: .cache/maskface)")
    h.add_argument("--write", action="store_true", help="store the head and its calibration in the model's spec and card")

    p = sub.add_parser("push", help="upload a model folder to a Hub repo, unless the repo's version is better")
    p.add_argument("model", help="the model folder")
    p.add_argument("--to", required=True, metavar="ORG/REPO[@REV]", help="the Hub model repo")
    p.add_argument("--force", action="store_true", help="push even if the repo's version is better or not comparable")

    i = sub.add_parser("idm", help="ID-M figures of the frozen ImageNet MobileNetV2 baseline embedder")
    i.add_argument("--lfw", type=Path, default=DEFAULT_LFW, help="the LFW folder (default: ../shared/data/lfw)")
    i.add_argument("--size", type=int, default=160, help="crop side in pixels")
    i.add_argument("--scale", type=float, default=1.0, help="detector box enlargement of the crop")
    i.add_argument("--rule", choices=RULES, default=DEFAULT_RULE, help="how a person's score is made")
    i.add_argument("--out", type=Path, help="also write the JSON report here")

    c = sub.add_parser("convert-dlib", help="dlib's face-recognition network as Keras weights (the dlib-resnet teacher)")
    c.add_argument("--dat", type=Path, help="dlib_face_recognition_resnet_model_v1.dat (default: the "
                   "face_recognition_models package's, when installed)")
    c.add_argument("--out", type=Path, required=True, help="the .weights.h5 to write")

    f = sub.add_parser("export-faces", help="our detector's faces in LFW training photos, for training/dlib_template.py")
    f.add_argument("out", type=Path)
    f.add_argument("--count", type=int, default=1500)
    f.add_argument("--lfw", type=Path, default=DEFAULT_LFW, help="the LFW folder (default: ../shared/data/lfw)")

    x = sub.add_parser("export-idm", help="write the masked ID-M probes and a manifest to OUT_DIR")
    x.add_argument("out_dir", type=Path)
    x.add_argument("--lfw", type=Path, default=DEFAULT_LFW, help="the LFW folder (default: ../shared/data/lfw)")
    return parser


def _train(args: argparse.Namespace) -> int:
    if args.push_to and args.no_evaluate and not args.force:
        raise SystemExit("--push-to needs the evaluation (drop --no-evaluate) or --force")
    identity = args.task == IDENTITY
    for name, defaults in TASK_DEFAULTS.items():
        if getattr(args, name) is None:
            setattr(args, name, defaults[identity])
    if identity:
        out, data = _distill(args)
    else:
        if not args.arch or not args.data:
            raise SystemExit(f"--task {args.task} needs --arch and --data")
        out, data = _fit(args), args.data
    if out is None:  # a multi-worker cluster's other workers: the chief evaluates and pushes
        return 0
    if not args.no_evaluate:
        _evaluate(
            argparse.Namespace(
                model=str(out), data=data, split="test", write=True, labels=args.labels, labels_root=args.labels_root
            )
        )
    if args.push_to:
        return _push(argparse.Namespace(model=str(out), to=args.push_to, force=args.force))
    return 0


def _config(cls, args: argparse.Namespace, **given):
    """A run's config (a dataclass) from the parsed flags of the same names, and ``given`` values."""
    flags = {f.name: getattr(args, f.name) for f in dataclasses.fields(cls) if hasattr(args, f.name)}
    weights = {"weights": None if args.weights == "none" else args.weights, "cache_dir": args.cache_dir or None}
    return cls(**(flags | weights | given))


def _fit(args: argparse.Namespace) -> Path | None:
    from .train import TrainConfig, train

    return train(_config(TrainConfig, args, held_out_fraction=args.held_out))


def _distill(args: argparse.Namespace) -> tuple[Path, str]:
    """The identity model: a student distilled from dlib's descriptors (see :mod:`training.distill`)."""
    from .distill import DistillConfig, distill
    from .protocols import DEFAULT_LFW

    if not args.teacher:
        raise SystemExit("--task identity needs --teacher: the .npz parts of training/dlib_teacher.py, or dlib's "
                         "network for --arch dlib-resnet")
    if args.arch not in ("mobilenetv2", "vgg16", DLIB_RESNET):
        raise SystemExit(f"the identity embedding is built on mobilenetv2, vgg16 or dlib-resnet, not {args.arch}")
    lfw = args.data or str(DEFAULT_LFW)
    return distill(_config(DistillConfig, args, lfw=lfw)), lfw


def _evaluate(args: argparse.Namespace) -> int:
    from .evaluate import evaluate

    report = evaluate(args.model, args.data, args.split, write=args.write, labels=args.labels, labels_root=args.labels_root)
    json.dump(report, sys.stdout, indent=2)
    print()
    return 0


def _gender_model(source: str):
    from maskface.store import load_model

    stored = load_model(source)
    if stored.spec.task != "gender":
        raise SystemExit(f"{source} is a {stored.spec.task} model, not a gender model: this command is for gender models")
    return stored


def _store_calibration(stored, source: str, calibration: dict, validation: dict) -> None:
    """Write a refitted calibration, its GENDER-R validation figures and confusion matrix into the model."""
    from maskface.store import resolve, write_spec

    from .card import confusion_png, write_card
    from .evaluate import plot_confusion

    stored.spec.calibration.clear()
    stored.spec.calibration.update(calibration)
    stored.spec.metrics["GENDER-R validation"] = validation
    folder = resolve(source)
    plot_confusion(validation["confusion_matrix"], list(stored.spec.labels), folder / confusion_png("GENDER-R validation"))
    write_spec(stored.spec, folder)
    write_card(folder, stored.spec)


def _calibrate(args: argparse.Namespace) -> int:
    from .gender_r import recalibrate

    stored = _gender_model(args.model)
    calibration, validation = recalibrate(stored, args.labels, args.labels_root)
    if args.write:
        _store_calibration(stored, args.model, calibration, validation)
    json.dump(calibration | {"GENDER-R validation": validation}, sys.stdout, indent=2)
    print()
    return 0


def _embedding_head(args: argparse.Namespace) -> int:
    from .embedding_head import fit

    stored = _gender_model(args.model)
    head, calibration, validation, table = fit(stored, args.identity, Path(args.labels), Path(args.labels_root), args.lfw, args.cache_dir)
    if not head:
        log.info("the network alone is best on GENDER-R validation: no head")
    if args.write:
        stored.spec.embedding_head.clear()
        stored.spec.embedding_head.update(head)
        _store_calibration(stored, args.model, calibration, validation)
    chosen = {k: v for k, v in head.items() if k not in ("weights", "bias")}
    json.dump({"chosen": chosen, "calibration": calibration, "GENDER-R validation": validation, "choices": table}, sys.stdout, indent=1)
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


def _idm(args: argparse.Namespace) -> int:
    import numpy as np

    from .protocols import FrozenBackboneEmbedder, evaluate_idm

    embedder = FrozenBackboneEmbedder(args.size, args.scale)
    report = evaluate_idm(lambda crops, _: embedder.embed(np.stack(crops)), embedder.crop, args.lfw, rule=args.rule)
    report["model"] = embedder.model_id
    text = json.dumps(report, indent=2)
    if args.out:
        args.out.write_text(text + "\n")
    print(text)
    return 0


def _convert_dlib(args: argparse.Namespace) -> int:
    from .dlib_convert import DAT_NAME, convert, default_dat

    dat = args.dat or default_dat()
    if dat is None:
        raise SystemExit(f"give --dat: the path of {DAT_NAME} (pip install face-recognition-models has it)")
    model = convert(dat)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    model.save_weights(str(args.out))
    log.info("wrote %s (%d parameters)", args.out, model.count_params())
    return 0


def _export_faces(args: argparse.Namespace) -> int:
    from .dlib_convert import export_faces

    export_faces(args.out, args.count, args.lfw)
    return 0


def _export_idm(args: argparse.Namespace) -> int:
    from .protocols import export_idm

    export_idm(args.out_dir, args.lfw)
    return 0


COMMANDS = {
    "train": _train,
    "evaluate": _evaluate,
    "calibrate": _calibrate,
    "embedding-head": _embedding_head,
    "push": _push,
    "idm": _idm,
    "export-idm": _export_idm,
    "convert-dlib": _convert_dlib,
    "export-faces": _export_faces,
}


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
