"""Pushing a model to the Hub, with a local folder standing in for it (MASKFACE_HUB_MIRROR, ``hub_mirror``)."""

import shutil

import pytest

from maskface import hub
from maskface.store import load_model, load_model_or_fallback, read_spec, write_spec
from training.__main__ import main
from training.push import PushRefused, check, push


@pytest.fixture()
def mirror(tmp_path, configure):
    root = tmp_path / "hub"
    configure(hub_mirror=root)
    return root


def model_with(folder, tiny_mask_model, accuracy: float | None, task: str = "mask"):
    """A copy of the tiny saved model whose spec says it scored ``accuracy`` on MASK."""
    shutil.copytree(tiny_mask_model, folder)
    spec = read_spec(folder)
    spec.task = task
    spec.metrics = {} if accuracy is None else {"MASK": {"split": "test", "n": 10, "accuracy": accuracy}}
    write_spec(spec, folder)
    return folder


def test_mirror_keeps_every_version_and_serves_the_latest_or_a_pinned_one(mirror, tiny_mask_model, tmp_path):
    first = model_with(tmp_path / "a", tiny_mask_model, 0.90)
    second = model_with(tmp_path / "b", tiny_mask_model, 0.95)
    url_first = hub.upload_model(first, "org/mask", "first")
    url_second = hub.upload_model(second, "org/mask", "second")
    assert url_first != url_second and url_second.startswith("file://")
    latest = hub.download_model("org/mask")
    assert read_spec(latest).metrics["MASK"]["accuracy"] == 0.95
    pinned = hub.download_model(f"org/mask@{url_first.rsplit('/', 1)[1]}")
    assert read_spec(pinned).metrics["MASK"]["accuracy"] == 0.90
    assert hub.download_file("org/mask", "maskface.json") == latest / "maskface.json"
    assert hub.download_file("org/mask", "nothing.txt") is None and hub.download_file("org/other", "x") is None
    with pytest.raises(FileNotFoundError, match="org/other@main"):
        hub.download_model("org/other")


def test_mirror_refuses_names_that_leave_it(mirror):
    with pytest.raises(ValueError, match="not usable"):
        hub.download_model("org/..")
    with pytest.raises(ValueError, match="not usable"):
        hub.download_model("org/mask@../../etc")


def spec_with(accuracy, task="mask"):
    from maskface.crops import CropSpec
    from maskface.store import ModelSpec

    metrics = {} if accuracy is None else {"MASK": {"accuracy": accuracy}}
    return ModelSpec(task, "cnn", ["with_mask", "without_mask"], CropSpec(32), metrics=metrics)


def test_push_rules():
    assert "no model yet" in check(spec_with(0.9), None)
    assert "0.9000, the repo's version 0.9000" in check(spec_with(0.9), spec_with(0.9))
    assert "has no MASK figure" in check(spec_with(0.9), spec_with(None))
    with pytest.raises(PushRefused, match="better on MASK accuracy: 0.9500 there, 0.9000 here"):
        check(spec_with(0.9), spec_with(0.95))
    with pytest.raises(PushRefused, match="evaluate it first"):
        check(spec_with(None), None)
    with pytest.raises(PushRefused, match="holds a gender model"):
        check(spec_with(0.9), spec_with(0.8, task="gender"))


def test_a_worse_model_is_refused_unless_forced(mirror, tiny_mask_model, tmp_path):
    good = model_with(tmp_path / "good", tiny_mask_model, 0.95)
    worse = model_with(tmp_path / "worse", tiny_mask_model, 0.90)
    assert main(["push", str(good), "--to", "org/mask"]) == 0
    assert main(["push", str(worse), "--to", "org/mask"]) == 1
    assert read_spec(hub.download_model("org/mask")).metrics["MASK"]["accuracy"] == 0.95
    assert main(["push", str(worse), "--to", "org/mask", "--force"]) == 0
    assert read_spec(hub.download_model("org/mask")).metrics["MASK"]["accuracy"] == 0.90


def test_unfinished_runs_and_non_models_are_not_pushed(mirror, tiny_mask_model, tmp_path):
    folder = model_with(tmp_path / "m", tiny_mask_model, 0.9)
    (folder / ".run").mkdir()
    with pytest.raises(PushRefused, match="unfinished training run"):
        push(folder, "org/mask", force=True)
    with pytest.raises(PushRefused, match="not a saved model"):
        push(tmp_path, "org/mask", force=True)


def test_the_app_loader_serves_the_pushed_version_and_falls_back_without_it(mirror, tiny_mask_model, tmp_path):
    url = push(model_with(tmp_path / "m", tiny_mask_model, 0.9), "org/mask")
    stored, note = load_model_or_fallback("hf://org/mask", fallback=str(tiny_mask_model))
    assert stored.spec.metrics["MASK"]["accuracy"] == 0.9 and url.rsplit("/", 1)[1][:12] in note
    assert load_model("hf://org/mask").spec.task == "mask"
    _, note = load_model_or_fallback("hf://org/missing", fallback=str(tiny_mask_model))
    assert "could not be loaded" in note
