"""``python -m maskface``: the command-line face of :class:`maskface.analyzer.Analyzer`.

- ``predict`` prints one JSON object per input image, one per line, on
  stdout; logs go to stderr. The exit code is 2 when any input could not be read.
- ``models`` lists the shipped models with their measured figures.
- ``simulate-mask`` writes copies of a folder's images with simulated masks.
- ``enroll`` and ``gallery build|list|remove`` manage the people ``predict
  --gallery`` recognises.
- ``labels delete`` removes someone's labels from the labeling dataset; ``labels progress``
  prints the Progress view's figures (labels per day and labeler, agreement, the model's confusion);
  ``labels export`` writes the dataset's gender labels of shared photos as rows of the repo's
  labels dataset and ``labels import`` merges such rows into it (``data/labels/gender-real``,
  :mod:`maskface.labelset`).
- ``space readme`` renders the Space's README front matter from ``space.yaml``;
  ``space deploy --to ORG/NAME [--dry-run]`` creates or updates the Space.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from .config import set_third_party_defaults
from .detect import DETECTORS
from .labelset import DEFAULT_DATASET, DEFAULT_ROOT
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
    p.add_argument("--gallery", type=Path, help="also identify each face among the people enrolled in this gallery")
    p.add_argument("--identity-model", help="identity model for --gallery (default: identity-dlib-resnet)")
    p.add_argument("--save", type=Path, metavar="DIR", help="also write each image with its faces drawn into DIR")

    sub.add_parser("models", help="list the shipped models and their measured figures")

    p = sub.add_parser("enroll", help="enrol a person in a gallery from photos showing only them")
    _gallery_options(p)
    p.add_argument("--name", required=True, help="the person's name (stored as given, never used as a path)")
    p.add_argument("images", nargs="+", type=Path, metavar="IMAGE", help="photos showing exactly one face each")

    p = sub.add_parser("labels", help="operators' actions on the labeling tab's dataset folder")
    verbs = p.add_subparsers(dest="verb", required=True)
    delete = verbs.add_parser("delete", help="delete every label given under a labeler name or id (crops and lines)")
    who = delete.add_mutually_exclusive_group(required=True)
    who.add_argument("--name", help="the labeler name, exactly as given")
    who.add_argument("--labeler-id", help="the labeler id of a browser session")
    report = verbs.add_parser("progress", help="labels per day and labeler, agreement, the model's confusion (JSON)")
    export = verbs.add_parser("export", help="the gender labels of shared photos as rows of a labels dataset (JSON lines)")
    export.add_argument("--labeler", help="name every row's labeler so (default: each label's name, else its labeler id)")
    export.add_argument("--out", type=Path, help="the JSON-lines file to write (default: stdout)")
    for verb in (delete, report, export):
        verb.add_argument("--labels-dir", type=Path, help="the dataset folder (default: MASKFACE_LABELS_DIR or labels/)")
    merge = verbs.add_parser("import", help="merge JSON-lines rows of shared photos into a labels dataset (and its card)")
    merge.add_argument("file", type=Path, metavar="FILE.jsonl", help="one label per line (maskface.labelset's rows)")
    merge.add_argument("--dataset", type=Path, default=DEFAULT_DATASET, help="default: data/labels/gender-real")
    merge.add_argument("--root", type=Path, default=DEFAULT_ROOT, help="the shared data folder the rows name photos in")

    p = sub.add_parser("gallery", help="build, list or edit a gallery of enrolled people")
    verbs = p.add_subparsers(dest="verb", required=True)
    build = verbs.add_parser("build", help="enrol every person of DATA_DIR (one sub-folder of photos per person)")
    build.add_argument("data_dir", type=Path, metavar="DATA_DIR")
    _gallery_options(build)
    _gallery_options(verbs.add_parser("list", help="list the enrolled people (JSON lines)"))
    remove = verbs.add_parser("remove", help="remove a person by id or name")
    remove.add_argument("person", metavar="NAME_OR_ID")
    _gallery_options(remove)

    p = sub.add_parser("simulate-mask", help="draw simulated masks on the faces in a folder's images")
    p.add_argument("in_dir", type=Path, metavar="IN_DIR", help="folder of images (read recursively)")
    p.add_argument("out_dir", type=Path, metavar="OUT_DIR", help="folder for the masked copies and manifest.csv")
    p.add_argument("--styles", nargs="+", choices=STYLES, default=list(STYLES), help="mask styles to draw from")
    p.add_argument("--seed", type=int, default=0, help="image number i is masked with seed + i (default: 0)")
    p.add_argument("--detector", choices=DETECTORS, default="auto", help="face detector setting (default: auto)")

    p = sub.add_parser("space", help="the Hugging Face Space: its README front matter, and deploying it")
    verbs = p.add_subparsers(dest="verb", required=True)
    readme = verbs.add_parser("readme", help="print (or write into README.md) the Space front matter of space.yaml")
    readme.add_argument("--space", type=Path, default=Path("space.yaml"), help="the Space settings (default: space.yaml)")
    readme.add_argument("--readme", type=Path, default=Path("README.md"), help="the README (default: README.md)")
    readme.add_argument("--write", action="store_true", help="replace the README's front matter with the rendering")
    readme.add_argument("--check", action="store_true", help="exit 1 when the README's front matter differs")
    deploy = verbs.add_parser(
        "deploy", help="create or update a Gradio Space with this checkout's app, package, models and settings"
    )
    deploy.add_argument("--to", required=True, metavar="ORG/NAME", help="the Space repo")
    deploy.add_argument("--from", dest="root", type=Path, default=Path("."), help="the checkout (default: .)")
    deploy.add_argument("--space", type=Path, help="the Space settings (default: space.yaml of the checkout)")
    deploy.add_argument("--dry-run", action="store_true", help="list the files, variables and secrets; send nothing")
    return parser


def _gallery_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--gallery", type=Path, required=True, help="the gallery folder (created when missing)")
    p.add_argument("--identity-model", help="identity model (default: identity-dlib-resnet)")
    p.add_argument("--detector", choices=DETECTORS, default="auto", help="face detector setting (default: auto)")


def main(argv: list[str] | None = None) -> int:
    set_third_party_defaults()  # before TensorFlow and onnxruntime load
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, stream=sys.stderr)
    if args.command == "models":
        return _list_models()
    if args.command == "simulate-mask":
        return _simulate_masks(args)
    if args.command in ("enroll", "gallery"):
        return _gallery(args)
    if args.command == "labels":
        return _labels(args)
    if args.command == "space":
        return _space_readme(args) if args.verb == "readme" else _space_deploy(args)
    return _predict(args)


def _predict(args: argparse.Namespace) -> int:
    from .analyzer import DEFAULT_IDENTITY_MODEL, DEFAULT_MODELS, Analyzer
    from .gallery import Gallery
    from .image import iter_image_files
    from .store import ModelNotFoundError

    try:
        chosen = {task: getattr(args, f"{task}_model") for task in TASKS}
        models = {**DEFAULT_MODELS, **{task: source for task, source in chosen.items() if source}}
        if args.gallery:
            models["identity"] = args.identity_model or DEFAULT_IDENTITY_MODEL
        analyzer = Analyzer(models=models, detector=args.detector)
        gallery = Gallery.for_model(args.gallery, analyzer.embedder) if args.gallery else None
    except (ModelNotFoundError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    if args.save:
        args.save.mkdir(parents=True, exist_ok=True)
    failed = False
    for number, result in enumerate(analyzer.analyze_many(iter_image_files(args.inputs), args.assume_face, gallery)):
        failed = failed or result.error is not None
        if args.save and result.error is None:
            result.save(args.save / f"{number:05d}-{Path(result.source).stem}.jpg", "identity" if gallery else "mask")
        print(json.dumps(result.to_dict(), ensure_ascii=False), flush=True)
    return 2 if failed else 0


def _gallery(args: argparse.Namespace) -> int:
    """``enroll`` and ``gallery build|list|remove``; errors are one line on stderr and exit code 1."""
    from .analyzer import DEFAULT_IDENTITY_MODEL, Analyzer
    from .enrolment import enroll
    from .gallery import Gallery, GalleryError
    from .image import ImageError, iter_image_files
    from .store import ModelNotFoundError

    try:
        analyzer = Analyzer(models={"identity": args.identity_model or DEFAULT_IDENTITY_MODEL}, detector=args.detector)
        gallery = Gallery.for_model(args.gallery, analyzer.embedder)
        if args.command == "enroll":
            person = enroll(analyzer, gallery, args.name, args.images)
            print(json.dumps({"id": person, "name": args.name}, ensure_ascii=False))
        elif args.verb == "build":
            if not args.data_dir.is_dir():
                raise ValueError(f"not a folder: {args.data_dir}")
            from tqdm import tqdm

            for folder in tqdm(sorted(p for p in args.data_dir.iterdir() if p.is_dir()), desc="enrolling", unit="person"):
                photos = list(iter_image_files([folder]))
                try:
                    person = enroll(analyzer, gallery, folder.name, photos)
                except (ValueError, ImageError) as err:
                    print(f"skipped {folder.name!r}: {err}", file=sys.stderr)
                    continue
                print(json.dumps({"id": person, "name": folder.name, "photos": len(photos)}, ensure_ascii=False))
        elif args.verb == "list":
            for person in gallery.people():
                print(json.dumps(person, ensure_ascii=False))
        else:
            removed = gallery.remove(args.person)
            print(json.dumps({"removed": args.person, "embeddings": removed}, ensure_ascii=False))
    except (ModelNotFoundError, GalleryError, ImageError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    return 0


def _labels(args: argparse.Namespace) -> int:
    """``labels delete`` (what an operator runs when a labeler asks for their labels to go, here and on the Hub),
    ``labels progress``, ``labels export`` and ``labels import``."""
    if args.verb == "import":
        return _import_labels(args)
    from dataclasses import replace

    from .config import settings
    from .labels import LabelError, LabelStore
    from .labelset import LabelSetError, rows_from_store
    from .progress import progress
    from .sync import label_store

    config = replace(settings(), labels_dir=args.labels_dir) if args.labels_dir else settings()
    try:
        if args.verb == "delete":
            store = label_store(config)
            output = {"deleted": store.delete_contributions(labeler_id=args.labeler_id, labeler_name=args.name)}
        else:  # reads only: no Hub sync started
            store = LabelStore(config.labels_dir)
            records = store.records()
            if args.verb == "export":
                rows, other = rows_from_store(records, args.labeler)
            else:
                output = progress(records).to_dict()
        store.close()
    except (LabelError, LabelSetError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    if args.verb == "export":
        text = "".join(json.dumps(row) + "\n" for row in rows)
        if args.out:
            args.out.write_text(text)
        else:
            sys.stdout.write(text)
        print(f"exported {len(rows)} label(s); {other} gender label(s) of uploads name no shared photo", file=sys.stderr)
        return 0
    print(json.dumps(output))
    return 0


def _import_labels(args: argparse.Namespace) -> int:
    """``labels import``: valid rows join the dataset (newer labels of a face replace older ones); every line
    left out is named on stderr, and the exit code is 2 when there was one."""
    from .labelset import LabelSet, LabelSetError, read_rows

    try:
        rows, errors = read_rows(args.file, args.root)
        labels = LabelSet.load(args.dataset)
    except (OSError, LabelSetError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    for error in errors:
        print(f"{args.file}: {error}", file=sys.stderr)
    merged = labels.merge(rows)
    labels.save()
    print(json.dumps(vars(merged) | {"rejected": len(errors), "dataset": str(args.dataset)}))
    return 2 if errors else 0


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


def _space_readme(args: argparse.Namespace) -> int:
    from .space import load_space, render_front_matter, split_front_matter, write_front_matter

    block = render_front_matter(load_space(args.space))
    if args.write:
        write_front_matter(args.readme, block)
    elif args.check:
        if split_front_matter(args.readme.read_text(encoding="utf-8"))[0] != block:
            print(f"{args.readme}'s front matter differs from {args.space}: run `python -m maskface space readme --write`", file=sys.stderr)
            return 1
    else:
        print(block, end="")
    return 0


def _space_deploy(args: argparse.Namespace) -> int:
    """``space deploy``: what would be sent (``--dry-run``), or send it and print the Space's URL."""
    from .space import deploy, plan_deployment

    try:
        deployment = plan_deployment(args.root, args.to, args.space)
    except (OSError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    print("\n".join(deployment.describe()), file=sys.stderr if not args.dry_run else sys.stdout)
    if args.dry_run:
        print(f"dry run: nothing sent to {args.to}")
        return 0
    print(deploy(deployment))
    return 0
