import json

import numpy as np
import pytest

from maskface import hub, store
from maskface.store import ModelNotFoundError, load_model, read_spec, resolve


def test_round_trip_keeps_predictions_and_spec(tiny_mask_model):
    first = load_model(tiny_mask_model)
    again = load_model(str(tiny_mask_model))
    x = np.random.default_rng(1).uniform(0, 255, (3, 32, 32, 3)).astype("float32")
    np.testing.assert_allclose(np.asarray(first.model(x)), np.asarray(again.model(x)), atol=1e-6)
    assert first.spec.labels == ["with_mask", "without_mask"]
    assert first.spec.crop.size == 32 and first.spec.crop.scale == 1.3


def test_saved_folder_is_keras_unzipped_format_without_optimizer(tiny_mask_model):
    names = {p.name for p in tiny_mask_model.iterdir()}
    assert {"config.json", "metadata.json", "model.weights.h5", store.SPEC_FILE} <= names
    assert json.loads((tiny_mask_model / store.SPEC_FILE).read_text())["task"] == "mask"


def test_large_weights_are_sharded_and_load_the_same(tiny_mask_model, tmp_path, monkeypatch):
    first = load_model(tiny_mask_model)
    sizes = [w.nbytes for w in first.model.get_weights()]
    limit = max(sizes) + 1024  # a shard holds whole variables: the largest must fit
    assert sum(sizes) > limit
    monkeypatch.setattr(store, "MAX_WEIGHTS_FILE", limit)
    folder = store.save_model(first.model, first.spec, tmp_path / "sharded")
    assert not (folder / store.WEIGHTS_FILE).exists() and (folder / store.SHARDED_WEIGHTS_FILE).is_file()
    shards = list(folder.glob("*.weights.h5"))
    assert len(shards) > 1 and all(p.stat().st_size <= 1.1 * limit for p in shards)
    x = np.random.default_rng(2).uniform(0, 255, (2, 32, 32, 3)).astype("float32")
    again = load_model(folder)
    np.testing.assert_allclose(np.asarray(first.model(x)), np.asarray(again.model(x)), atol=1e-6)
    monkeypatch.setattr(store, "MAX_WEIGHTS_FILE", 10**9)  # saved again small: one file, no stale shards
    store.save_model(first.model, first.spec, folder)
    assert [p.name for p in folder.glob("*.weights.*")] == [store.WEIGHTS_FILE]


def test_shipped_name_resolves_in_models_dir(tiny_mask_model, configure):
    configure(models_dir=tiny_mask_model.parent)
    assert resolve("tiny-mask") == tiny_mask_model
    assert "tiny-mask" in store.shipped_models()


def test_unknown_source_lists_shipped_models(tiny_mask_model, configure):
    configure(models_dir=tiny_mask_model.parent)
    with pytest.raises(ModelNotFoundError, match="tiny-mask"):
        resolve("no-such-model")


def test_hf_source_goes_through_the_hub_module(tiny_mask_model, monkeypatch):
    asked = []
    monkeypatch.setattr(hub, "download_model", lambda repo: asked.append(repo) or tiny_mask_model)
    assert load_model("hf://org/mask@v2").spec.task == "mask"
    assert asked == ["org/mask@v2"]


@pytest.mark.parametrize("repo", ["org", "org/", "/name", "a/b/c", ""])
def test_hub_repo_names_are_validated(repo):
    with pytest.raises(ValueError, match="org/name"):
        hub.split_revision(repo)


def test_hub_revision_is_optional():
    assert hub.split_revision("org/name") == ("org/name", None)
    assert hub.split_revision("org/name@abc123") == ("org/name", "abc123")


def test_spec_written_atomically(tiny_mask_model):
    spec = read_spec(tiny_mask_model)
    spec.metrics["MASK"] = {"accuracy": 0.5}
    store.write_spec(spec, tiny_mask_model)
    assert read_spec(tiny_mask_model).metrics["MASK"]["accuracy"] == 0.5
    assert not list(tiny_mask_model.glob("*.tmp"))


def test_saving_over_a_saved_model_replaces_it(tmp_path):
    import keras

    from training.architectures import build_model
    from maskface.crops import CropSpec
    from maskface.store import ModelSpec, load_model, save_model

    spec = ModelSpec(task="mask", arch="cnn", labels=["with_mask", "without_mask"], crop=CropSpec(32, 1.2))
    keras.utils.set_random_seed(0)
    save_model(build_model("cnn", 2, 32, weights=None), spec, tmp_path / "m")
    second = build_model("cnn", 2, 32, weights=None)
    save_model(second, spec, tmp_path / "m")
    loaded = load_model(tmp_path / "m").model
    for a, b in zip(loaded.get_weights(), second.get_weights()):
        np.testing.assert_array_equal(a, b)
