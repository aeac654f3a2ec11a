"""The whole retraining loop on CPU with a tiny model, the Hub stood in by a local folder.

Faces are labelled through the library (the labeling tab's queue and store),
a model is trained from the base data plus those labels, evaluated on the
protocol split and the labels' held-out part, carded, pushed, and the app's
loader then serves the new version instead of the one the repo held before.
"""

import shutil

import numpy as np
from PIL import Image

from maskface import hub
from maskface.analyzer import Analyzer
from maskface.labels import LabelStore, build_queue, new_labeler_id
from maskface.store import load_model_or_fallback, read_spec, write_spec
from training.__main__ import main
from training.train import HELD_OUT

REPO_ID = "org/maskface-mask"


def test_labels_become_a_new_model_that_the_app_serves(toy_imagefolder, tiny_mask_model, make_face, tmp_path, configure):
    configure(hub_mirror=tmp_path / "hub")
    # the repo already holds a weak version: the app serves it
    previous = shutil.copytree(tiny_mask_model, tmp_path / "previous")
    spec = read_spec(previous)
    spec.metrics = {"MASK": {"split": "test", "n": 15, "accuracy": 0.5}}
    write_spec(spec, previous)
    hub.upload_model(previous, REPO_ID, "previous version")
    served, before = load_model_or_fallback(f"hf://{REPO_ID}", fallback="mask-cnn")
    assert served.spec.metrics["MASK"]["accuracy"] == 0.5 and "revision" in before

    # label a few faces through the library: the queue pre-filled by a model, one answer each, consent given
    rng = np.random.default_rng(11)
    truth = {}
    (tmp_path / "photos").mkdir()
    for i in range(12):
        truth[str(tmp_path / "photos" / f"{i}.png")] = label = ("with_mask", "without_mask")[i % 2]
        Image.fromarray(make_face(rng, label)).save(tmp_path / "photos" / f"{i}.png")
    queue = build_queue(sorted(truth), Analyzer(models={"mask": str(tiny_mask_model)}), "mask", assume_face=True)
    store, me = LabelStore(tmp_path / "labels"), new_labeler_id()
    for item in queue.items:
        store.add(item.crop, "mask", truth[item.source], labeler_id=me, consent=True, labeler_name="Ada",
                  prediction=item.predictions.get("mask"))
    store.add(queue.items[0].crop, "gender", "unsure", labeler_id=me, consent=True)
    assert store.count(me) == 13

    # train from the base data + the labels, evaluate, write the card, push
    out = tmp_path / "runs" / "mask-cnn"
    code = main(["train", "--task", "mask", "--arch", "cnn", "--data", str(toy_imagefolder), "--labels", str(store.folder),
                 "--out", str(out), "--epochs", "4", "--input-size", "32", "--batch-size", "8",
                 "--cache-dir", str(tmp_path / "cache"), "--push-to", REPO_ID])
    assert code == 0
    trained = read_spec(out)
    assert trained.training["labels_data"]["used"] == 12 and trained.training["labels_data"]["skipped"] == {"other_task": 1}
    assert trained.metrics[HELD_OUT]["n"] == 2 and trained.metrics["MASK"]["n"] == 15
    assert trained.metrics["MASK"]["accuracy"] > 0.5
    card = (out / "README.md").read_text()
    assert "config: LABELS held-out" in card and "config: MASK" in card and "curves.png" in card
    assert {"curves.png", "confusion_mask.png", "confusion_labels_heldout.png"} <= {p.name for p in out.iterdir()}

    # the app's loader now serves the new version, pictures and card included
    served, after = load_model_or_fallback(f"hf://{REPO_ID}", fallback="mask-cnn")
    assert after != before and served.spec.metrics == trained.metrics
    folder = hub.download_model(REPO_ID)
    assert (folder / "README.md").read_text() == card and (folder / "curves.png").is_file()
    faces = Analyzer(models={"mask": served}).analyze(tmp_path / "photos" / "0.png", assume_face=True)
    assert faces[0]["mask"].label in ("with_mask", "without_mask")

    # the repo's version is now better than the previous model: pushing that back is refused
    assert main(["push", str(previous), "--to", REPO_ID]) == 1
