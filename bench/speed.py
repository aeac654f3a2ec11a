"""Speed of the full analysis on composed 640x480 photos, against MTCNN at its defaults, in one run.

Measured, as medians over repeated runs after a warm-up (and after every
model's TFLite conversion has finished, so the steady state is timed):

* latency per photo of ``Analyzer.analyze`` on the JPEG bytes (decode, detect,
  crop, every task model, and identity when an identity model is shipped),
  for photos with 1 and with 5 faces, and per stage;
* ``mtcnn-default`` detection alone (the ``mtcnn`` package at its defaults)
  and the analyzer's own detector alone, on the same decoded photos;
* each model's forward pass as an eager Keras call, a compiled
  ``tf.function`` and TFLite, for 1 and 5 faces, with the largest output
  difference from Keras (the conversion must keep outputs within 1e-3);
* throughput: images per second of ``analyze_many`` over a folder of JPEGs
  (half 1-face, half 5-face photos).

    python -m bench speed [--quick] [--out bench/results/speed.json]
"""

from __future__ import annotations

import io
import logging
import os
import platform
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image

from .photos import DEFAULT_DATA, FaceSources, compose, write_folder

REPO = Path(__file__).resolve().parents[1]
DEFAULT_OUT = REPO / "bench" / "results" / "speed.json"
FACE_COUNTS = (1, 5)
#: (repeats per photo, photos per layout, photos in the throughput folder)
FULL = (10, 5, 200)
QUICK = (3, 2, 20)
#: People enrolled in the benchmark's gallery when an identity model is shipped.
GALLERY_PEOPLE = 10

log = logging.getLogger(__name__)


def faces_label(n: int) -> str:
    return f"{n} face" + ("s" if n != 1 else "")


def median_ms(fn: Callable[[], object], repeats: int) -> float:
    """Median wall-clock milliseconds of ``fn()`` over ``repeats`` calls."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def interleaved(fns: dict[str, Callable[[int], object]], photos: int, repeats: int) -> dict[str, float]:
    """Median milliseconds of each ``fn(photo_index)``, the functions taking turns on every photo and
    repeat, so that a change in the machine's load weighs on all of them alike."""
    times: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(repeats):
        for i in range(photos):
            for name, fn in fns.items():
                start = time.perf_counter()
                fn(i)
                times[name].append((time.perf_counter() - start) * 1000)
    return {name: statistics.median(values) for name, values in times.items()}


def jpeg(pixels: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="JPEG", quality=90)
    return buffer.getvalue()


def test_photos(analyzer, n_faces: int, count: int, sources: FaceSources) -> list[np.ndarray]:
    """The first ``count`` composed photos in which the analyzer's detector finds exactly ``n_faces`` faces."""
    found: list[np.ndarray] = []
    seed = 0
    while len(found) < count:
        pixels = compose(n_faces, seed, sources)
        if len(analyzer.detector.detect(pixels)) == n_faces:
            found.append(pixels)
        seed += 1
        if seed > 50 * count:
            raise RuntimeError(f"could not compose {count} photos with {n_faces} detected faces")
    return found


def make_analyzer(gallery_dir: Path | None, data: Path, identity: str | None = None, reference: bool = False):
    """The analyzer and its gallery: with the identity model (``identity``, default the shipped one) and a
    gallery of LFW people when there is one, else the default analyzer and no gallery; ``reference``: the
    gender model without its embedding head."""
    from maskface import Analyzer
    from maskface.analyzer import DEFAULT_IDENTITY_MODEL, DEFAULT_MODELS
    from maskface.enrolment import enroll
    from maskface.gallery import Gallery
    from maskface.store import load_model, shipped_models

    if identity is None and DEFAULT_IDENTITY_MODEL in shipped_models():
        identity = DEFAULT_IDENTITY_MODEL
    if gallery_dir is None or identity is None:
        return Analyzer(), None
    models: dict = {**DEFAULT_MODELS, "identity": identity}
    if reference:  # one identity model, as before the gender head: the head would run the shipped one besides
        gender = load_model(DEFAULT_MODELS["gender"])
        gender.spec.embedding_head = {}
        models["gender"] = gender
    analyzer = Analyzer(models)
    gallery = Gallery.for_model(gallery_dir, analyzer.embedder)
    people: dict[str, list[Path]] = {}
    for path in sorted((data / "lfw" / "images").glob("*/*_0001.jpg")):
        second = path.with_name(path.name.replace("_0001", "_0002"))
        if second.is_file() and len(people) < GALLERY_PEOPLE:
            people[path.parent.name] = [path, second]
    for name, photos in people.items():
        try:
            enroll(analyzer, gallery, name, photos)
        except ValueError as err:  # a photo with two faces: skip that person
            log.info("not enrolled: %s", err)
    return analyzer, gallery


def stage_ms(analyzer, gallery, encoded: list[bytes], repeats: int) -> dict[str, float]:
    """Median milliseconds of each stage of ``analyzer.analyze``, stages taking turns on every photo."""
    from maskface.crops import crop_faces
    from maskface.face import wears_mask
    from maskface.image import load_image
    from maskface.inference import predictor_for

    pixels = [load_image(data) for data in encoded]
    boxes = [[face.box for face in analyzer.find_faces(p)] for p in pixels]
    stages: dict[str, Callable[[int], object]] = {
        "decode": lambda i: load_image(encoded[i]),
        "detect": lambda i: analyzer.find_faces(pixels[i]),
    }
    for task, stored in analyzer.models.items():
        crops = [crop_faces(p, b, stored.spec.crop).astype(np.float32) for p, b in zip(pixels, boxes)]
        run = predictor_for(stored.model)
        stages[f"crop {task}"] = lambda i, spec=stored.spec.crop: crop_faces(pixels[i], boxes[i], spec)
        stages[f"model {task}"] = lambda i, run=run, crops=crops: run(crops[i])
    if gallery is not None:
        spec = analyzer.embedder.crop
        faces = [analyzer.analyze(data) for data in encoded]
        keypoints = [[face.keypoints for face in found] for found in faces]
        masked = [wears_mask(found) for found in faces]
        crops = [crop_faces(p, b, spec, k) for p, b, k in zip(pixels, boxes, keypoints)]
        embeddings = [analyzer.embedder.embed(c, m) for c, m in zip(crops, masked)]
        stages["crop identity"] = lambda i: crop_faces(pixels[i], boxes[i], spec, keypoints[i])
        stages["model identity"] = lambda i: analyzer.embedder.embed(crops[i], masked[i])
        stages["match identity"] = lambda i: gallery.identify(embeddings[i], masked=masked[i])
    return interleaved(stages, len(encoded), repeats)


def backends(analyzer, photo: np.ndarray, repeats: int) -> dict[str, dict]:
    """Per model and batch size: eager Keras, tf.function and TFLite milliseconds, and the largest
    output difference of each compiled path from Keras on real face crops."""
    from maskface.crops import crop_faces
    from maskface.inference import Predictor, predictor_for

    faces = analyzer.find_faces(photo)
    boxes, keypoints = [face.box for face in faces], [face.keypoints for face in faces]
    # (task, source, network, crop): each classifier, and each network of the identity model
    runs = [(task, stored.source, stored.model, stored.spec.crop) for task, stored in analyzer.models.items()]
    if analyzer.embedder is not None:
        embedder = analyzer.embedder
        networks = {"": embedder.networks["bare"]} if embedder.networks["bare"] is embedder.networks["masked"] else {
            f" ({kind})": network for kind, network in embedder.networks.items()
        }
        runs += [(f"identity{kind}", embedder.stored.source, net, embedder.crop) for kind, net in networks.items()]
    results: dict[str, dict] = {}
    for task, source, model, spec in runs:
        graph = Predictor(model, convert=False)
        fast = predictor_for(model)
        fast.wait()  # the identity model's conversion may start only here
        row: dict = {"model": source, "tflite": fast.backend == "tflite"}
        for n in sorted({1, len(boxes)}):
            crops = crop_faces(photo, boxes[:n], spec, keypoints[:n]).astype(np.float32)
            reference = np.asarray(model(crops, training=False))
            graph(crops)  # trace once, untimed
            row[faces_label(n)] = {
                "eager_ms": round(median_ms(lambda m=model, c=crops: m(c, training=False), repeats), 2),
                "tf_function_ms": round(median_ms(lambda g=graph, c=crops: g(c), repeats), 2),
                "tflite_ms": round(median_ms(lambda f=fast, c=crops: f(c), repeats), 2),
                "max_abs_diff_tf_function": float(np.abs(graph(crops) - reference).max()),
                "max_abs_diff_tflite": float(np.abs(fast(crops) - reference).max()),
            }
        results[task] = row
    return results


def throughput(analyzer, gallery, folder: Path, n: int, sources: FaceSources) -> dict:
    """Images per second of ``analyze_many`` over ``n`` JPEG photos on disk."""
    paths = write_folder(folder, n, sources)
    start = time.perf_counter()
    results = [(len(r.faces), r.error) for r in analyzer.analyze_many(paths, gallery=gallery)]
    seconds = time.perf_counter() - start
    return {
        "images": n,
        "seconds": round(seconds, 2),
        "images_per_second": round(n / seconds, 2),
        "faces_found": sum(faces for faces, _ in results),
        "errors": sum(error is not None for _, error in results),
    }


def run(quick: bool = False, data: Path = DEFAULT_DATA, reference_identity: str | None = None) -> dict:
    """Every speed figure of this module, as one JSON-ready dict.

    ``reference_identity``, another identity model (e.g. the one shipped before
    a change), adds the full analysis with it (and the gender model without its
    embedding head, which reads the shipped identity model), timed in turn with
    the others on the same photos: how much a new identity model costs.
    """
    from maskface.config import settings
    from maskface.detect import make_detector
    from maskface.inference import wait_for_conversions

    repeats, photos_per_layout, folder_size = QUICK if quick else FULL
    sources = FaceSources(data)
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="maskface-bench-") as tmp:
        analyzer, gallery = make_analyzer(Path(tmp) / "gallery", data)
        identity = analyzer.embedder.stored.source if analyzer.embedder else None
        reference, reference_gallery = (
            make_analyzer(Path(tmp) / "reference-gallery", data, reference_identity, reference=True)
            if reference_identity
            else (None, None)
        )
        photos = {n: test_photos(analyzer, n, photos_per_layout, sources) for n in FACE_COUNTS}
        encoded = {n: [jpeg(p) for p in photos[n]] for n in FACE_COUNTS}
        mtcnn = make_detector("mtcnn-default")
        timed = {"full_analysis_ms": (analyzer, gallery)}
        if reference is not None:
            timed["full_analysis_reference_identity_ms"] = (reference, reference_gallery)
        for n in FACE_COUNTS:  # warm-up: load, trace, start the conversions, then wait for them
            for one, its_gallery in timed.values():
                one.analyze(encoded[n][0], gallery=its_gallery)
            mtcnn.detect(photos[n][0])
        wait_for_conversions()
        for n in FACE_COUNTS:
            for one, its_gallery in timed.values():
                one.analyze(encoded[n][0], gallery=its_gallery)

        latency = {}
        for n in FACE_COUNTS:
            medians = interleaved(
                {
                    **{
                        name: lambda i, jpegs=encoded[n], one=one, g=g: one.analyze(jpegs[i], gallery=g)
                        for name, (one, g) in timed.items()
                    },
                    "detector_ms": lambda i, arrays=photos[n]: analyzer.detector.detect(arrays[i]),
                    "mtcnn_default_ms": lambda i, arrays=photos[n]: mtcnn.detect(arrays[i]),
                },
                photos_per_layout,
                repeats,
            )
            latency[faces_label(n)] = {
                **{k: round(v, 2) for k, v in medians.items()},
                "mtcnn_default_faces": [len(mtcnn.detect(p)) for p in photos[n]],
                "stages_ms": {k: round(v, 2) for k, v in stage_ms(analyzer, gallery, encoded[n], repeats).items()},
            }
            stages = latency[faces_label(n)]["stages_ms"]
            latency[faces_label(n)]["models_ms_per_face"] = round(
                sum(v for k, v in stages.items() if k.split()[0] in ("crop", "model", "match")) / n, 2
            )
        one = latency[faces_label(1)]
        report = {
            "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "load_average_before": load_before},
            "settings": {"quick": quick, "repeats": repeats, "photos_per_layout": photos_per_layout, "folder": folder_size},
            "tasks": list(analyzer.models) + (["identity"] if identity else []),
            "identity_model": identity,
            "reference_identity_model": reference_identity,
            "detector": analyzer.detector.name,
            "tflite": settings().tflite,
            "latency": latency,
            "full_over_mtcnn_default_1_face": round(one["full_analysis_ms"] / one["mtcnn_default_ms"], 3),
            "backends": backends(analyzer, photos[5][0], repeats),
            "throughput": throughput(analyzer, gallery, Path(tmp) / "photos", folder_size, sources),
        }
    report["machine"]["load_average_after"] = os.getloadavg()
    return report


def main(argv: list[str] | None = None) -> int:
    from .report import part_main

    return part_main(
        __doc__, run, DEFAULT_OUT, DEFAULT_DATA, "fewer repeats and photos (a smoke run)", argv,
        options={"reference_identity": "another identity model to time the full analysis with, in the same run"},
    )
