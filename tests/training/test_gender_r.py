"""GENDER-R: training on a labels dataset of shared photos, its validation part, calibration, and its test figures."""

import json

import numpy as np
import pytest

from maskface.labelset import LabelSet
from maskface.store import load_model, read_spec
from training import gender_r
from training.__main__ import main


@pytest.fixture(scope="module")
def trained(toy_gender_lfw, toy_gender_real, tmp_path_factory):
    labels, root = toy_gender_real
    out = tmp_path_factory.mktemp("run") / "toy-gender"
    code = main(
        ["train", "--task", "gender", "--arch", "cnn", "--data", str(toy_gender_lfw), "--out", str(out),
         "--labels", str(labels), "--labels-root", str(root), "--labels-repeat", "2", "--per-person", "2",
         "--epochs", "3", "--input-size", "32", "--batch-size", "8", "--cache-dir", str(out.parent / "cache")]
    )
    assert code == 0
    return out


def test_validation_is_a_fixed_share_of_train_photos_and_test_stays_test():
    rows = [{"file": f"mask/train/with_mask/x{i}.jpg", "split": "train"} for i in range(2000)]
    parts = [gender_r.part_of(row) for row in rows]
    assert parts == [gender_r.part_of(row) for row in rows]  # by file name: the same every time
    assert parts.count("validation") / len(parts) == pytest.approx(gender_r.VAL_FRACTION, abs=0.03)
    assert gender_r.part_of({"file": "mask/test/with_mask/x.jpg", "split": "test"}) == "test"


def test_training_reads_the_labels_train_part_and_holds_out_its_validation_part(trained, toy_gender_real):
    labels, _ = toy_gender_real
    spec = read_spec(trained)
    used = spec.training["labels_data"]
    rows = LabelSet.load(labels).rows
    train_rows = [r for r in rows if r["split"] == "train" and r["label"] != "unsure"]
    held = sum(gender_r.part_of(r) == "validation" for r in train_rows)
    assert used["protocol"] == "GENDER-R" and used["skipped"]["unsure"] == 4 and used["skipped"]["test split"] == 24
    assert sum(used["train"].values()) == len(train_rows) - held and sum(used["held_out"].values()) == held
    # 16 LFW people, at most 2 photos each, a tenth for validation; the labels' part twice (--labels-repeat 2)
    lfw_train = sum(spec.training["train_counts"].values()) - 2 * sum(used["train"].values())
    assert lfw_train <= 32 - 3


def test_the_model_is_calibrated_on_the_real_validation_faces(trained):
    calibration = read_spec(trained).calibration
    assert calibration["fitted_on"] == "GENDER-R validation" and calibration["temperature"] > 0
    assert len(calibration["bias"]) == 2 and calibration["bias"][1] == 0.0  # (female, male) offsets
    assert 0 <= calibration["ece_after"] <= 1 and calibration["faces"] > 0


def test_calibrate_refits_a_saved_model_on_validation_and_stores_it(trained, toy_gender_real, tmp_path, capsys):
    import shutil

    labels, root = toy_gender_real
    copy = tmp_path / "copy"
    shutil.copytree(trained, copy)
    spec = read_spec(copy)
    spec.calibration.update(temperature=5.0, bias=[3.0, 0.0])  # far off: the refit must move it back
    from maskface.store import write_spec

    write_spec(spec, copy)
    assert main(["calibrate", "--model", str(copy), "--labels", str(labels), "--labels-root", str(root)]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert read_spec(copy).calibration["temperature"] == 5.0  # without --write nothing is stored
    assert main(["calibrate", "--model", str(copy), "--labels", str(labels), "--labels-root", str(root), "--write"]) == 0
    stored = read_spec(copy)
    # the same fit as training's, on the same faces (cut at their boxes here, from the cached arrays there)
    assert stored.calibration["temperature"] == printed["temperature"]
    assert stored.calibration["temperature"] == pytest.approx(read_spec(trained).calibration["temperature"], rel=1e-2)
    assert stored.calibration["bias"] == pytest.approx(read_spec(trained).calibration["bias"], rel=1e-2)
    validation = stored.metrics["GENDER-R validation"]
    assert validation == printed["GENDER-R validation"] and validation["n"] == stored.calibration["faces"]
    assert "bias-corrected temperature scaling" in (copy / "README.md").read_text()
    assert (copy / "confusion_genderr_validation.png").stat().st_mtime_ns > (trained / "maskface.json").stat().st_mtime_ns


def test_calibrate_refuses_a_model_of_another_task(tiny_mask_model):
    with pytest.raises(SystemExit, match="mask model"):
        main(["calibrate", "--model", str(tiny_mask_model)])


def test_gender_r_test_figures_are_measured_masked_and_bare_and_stored(trained, toy_gender_real, toy_gender_lfw, capsys):
    labels, root = toy_gender_real
    code = main(["evaluate", "--model", str(trained), "--data", str(toy_gender_lfw), "--labels", str(labels),
                 "--labels-root", str(root), "--write"])
    assert code == 0
    report = json.loads(capsys.readouterr().out)["GENDER-R"]
    assert report["faces"] == 24 and report["scored_whole_photo"] == 24 and report["missed_by_detector"] == 0
    for condition in ("masked", "bare"):
        figs = report[condition]
        assert figs["n"] == 12 and figs["female"] == 6 and 0 <= figs["ece"] <= 1
        assert sum(map(sum, figs["confusion_matrix"])) == 12
    metrics = read_spec(trained).metrics
    assert {"GENDER-R masked", "GENDER-R bare", "GENDER-M masked"} <= set(metrics)
    card = (trained / "README.md").read_text()
    assert "GENDER-R masked" in card and (trained / "confusion_genderr_masked.png").is_file()


def test_gender_r_scores_a_face_as_predict_does(trained, toy_gender_real):
    """The probabilities of the test run equal the analyzer's answers on the whole photos (--assume-face)."""
    from maskface import Analyzer

    labels, root = toy_gender_real
    stored = load_model(trained)
    rows = gender_r.rows_of(labels, "test")[:4]
    probs, missed = gender_r.predict_as_cli(stored, rows, root)
    analyzer = Analyzer(models={"gender": stored})
    for row, p in zip(rows, probs):
        (face,) = analyzer.analyze(root / row["file"], assume_face=True)
        expected = face["gender"].score if face["gender"].label == "female" else 1 - face["gender"].score
        assert p == pytest.approx(expected, abs=1e-6)
    assert missed == [] and not np.isnan(probs).any()
