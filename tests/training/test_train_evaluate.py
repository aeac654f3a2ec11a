"""Train a tiny model end to end on a toy imagefolder, then evaluate it and write its card."""

import json

import numpy as np
import pytest

from maskface.store import load_model, read_spec
from training.__main__ import main
from training.architectures import BACKBONE


@pytest.fixture(scope="module")
def trained(toy_imagefolder, tmp_path_factory):
    out = tmp_path_factory.mktemp("run") / "toy-cnn"
    code = main(
        ["train", "--task", "mask", "--arch", "cnn", "--data", str(toy_imagefolder), "--out", str(out),
         "--epochs", "3", "--input-size", "32", "--batch-size", "8", "--balance", "over",
         "--cache-dir", str(out.parent / "cache")]
    )
    assert code == 0
    return out


def test_training_saves_a_loadable_model_with_its_settings(trained):
    stored = load_model(trained)
    assert stored.spec.task == "mask" and stored.spec.crop.size == 32
    assert stored.spec.training["balance"] == "over"
    assert stored.spec.training["train_counts"]["with_mask"] == stored.spec.training["train_counts"]["without_mask"]
    history = json.loads((trained / "history.json").read_text())
    assert len(history) == 3 and {"loss", "val_accuracy"} <= set(history[0])
    assert not (trained / "best.weights.h5").exists()


def test_evaluation_is_stored_in_spec_and_card(trained):
    metrics = read_spec(trained).metrics["MASK"]
    assert metrics["n"] == 15 and 0 <= metrics["accuracy"] <= 1
    assert sum(map(sum, metrics["confusion_matrix"])) == 15
    card = (trained / "README.md").read_text()
    assert "model-index" in card and f"value: {metrics['accuracy']}" in card
    assert metrics["balanced_accuracy"] <= 1 and "balanced_accuracy" in card
    assert (trained / "confusion_mask.png").stat().st_size > 1000


def test_toy_task_is_learned(trained):
    # the classes differ by a dark lower half: even 3 epochs of a tiny CNN separate them
    assert read_spec(trained).metrics["MASK"]["roc_auc"] >= 0.9


def test_evaluate_prints_json_and_writes_nothing_without_write(trained, toy_imagefolder, capsys):
    before = {p.name: p.stat().st_mtime_ns for p in trained.iterdir()}
    assert main(["evaluate", "--model", str(trained), "--data", str(toy_imagefolder)]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["split"] == "test" and len(report["MASK"]["confusion_matrix"]) == 2
    assert {p.name: p.stat().st_mtime_ns for p in trained.iterdir()} == before


def test_training_can_continue_from_a_saved_model(trained, toy_imagefolder, tmp_path):
    out = tmp_path / "continued"
    args = ["train", "--task", "mask", "--arch", "cnn", "--data", str(toy_imagefolder), "--out", str(out),
            "--epochs", "1", "--input-size", "32", "--batch-size", "8", "--cache-dir", str(tmp_path / "cache"),
            "--init-from", str(trained), "--no-evaluate"]
    assert main(args) == 0
    assert read_spec(out).training["continues"] == read_spec(trained).training


def test_continuing_from_another_architecture_is_refused(trained, toy_imagefolder, tmp_path):
    args = ["train", "--task", "mask", "--arch", "cnn", "--data", str(toy_imagefolder), "--out", str(tmp_path / "x"),
            "--epochs", "1", "--input-size", "48", "--cache-dir", str(tmp_path / "cache"), "--init-from", str(trained)]
    with pytest.raises(ValueError, match="cnn mask model at 32 px"):
        main(args)


def test_the_fine_tune_phase_unfreezes_from_the_layer_asked_for():
    from training.train import TrainConfig, plan

    default = TrainConfig("gender", "mobilenetv2-face", "data", "out", epochs=0, fine_tune_epochs=2)
    deeper = TrainConfig("gender", "mobilenetv2-face", "data", "out", epochs=0, fine_tune_epochs=2, fine_tune_from="block_6")
    assert [(p.name, p.unfreeze_from) for p in plan(default)] == [("fine-tune", "block_13")]
    assert [(p.name, p.unfreeze_from) for p in plan(deeper)] == [("fine-tune", "block_6")]


def test_a_pooled_network_can_continue_at_another_input_size(toy_imagefolder, tmp_path):
    """MobileNetV2 pools before its head, so its weights fit any input size: a 32 px model continues at 48 px."""
    def args(out, size, *more):
        return ["train", "--task", "mask", "--arch", "mobilenetv2", "--weights", "none", "--data", str(toy_imagefolder),
                "--out", str(out), "--epochs", "1", "--fine-tune-epochs", "0", "--input-size", str(size),
                "--batch-size", "8", "--cache-dir", str(tmp_path / "cache"), "--no-evaluate", *more]

    assert main(args(tmp_path / "small", 32)) == 0
    assert main(args(tmp_path / "large", 48, "--init-from", str(tmp_path / "small"))) == 0
    small, large = load_model(tmp_path / "small"), load_model(tmp_path / "large")
    assert large.spec.crop.size == 48 and large.spec.training["init_from"] == str(tmp_path / "small")
    # the head phase left the (frozen) backbone as the 32 px model had it
    for before, after in zip(small.model.get_layer(BACKBONE).get_weights(), large.model.get_layer(BACKBONE).get_weights()):
        assert np.array_equal(before, after)
