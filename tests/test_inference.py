"""The fast inference path: TFLite answers like Keras, conversions are cached, and it can be turned off."""

from __future__ import annotations

import numpy as np
import pytest

from maskface.inference import Predictor, cache_dir, model_key, predictor_for
from maskface.store import load_model, shipped_models


@pytest.fixture()
def cache(tmp_path, configure):
    configure(cache_dir=tmp_path / "cache", tflite=True)
    return tmp_path / "cache" / "litert"


@pytest.fixture(scope="module")
def tiny(tiny_mask_model):
    return load_model(tiny_mask_model).model


def crops(n: int, size: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (n, size, size, 3)).astype(np.float32)


def test_tflite_answers_like_keras_and_is_cached(cache, tiny):
    batch = crops(5, 32)
    first = Predictor(tiny)
    assert first.wait(120)
    assert first.backend == "tflite"
    assert (cache / f"{model_key(tiny)}.tflite").is_file()
    assert first(batch).shape == (5, 2)
    np.testing.assert_allclose(first(batch), np.asarray(tiny(batch, training=False)), atol=1e-3)
    second = Predictor(tiny)
    assert second.backend == "tflite"  # straight from the cache, no conversion
    np.testing.assert_array_equal(second(batch), first(batch))


def test_tf_function_path_when_turned_off(cache, tiny, configure):
    configure(tflite=False)
    predictor = Predictor(tiny)
    assert predictor.backend == "tf.function" and predictor.wait(0)
    batch = crops(3, 32, seed=1)
    np.testing.assert_allclose(predictor(batch), np.asarray(tiny(batch, training=False)), atol=1e-5)
    assert not cache.exists()


def test_empty_batch(cache, tiny):
    assert Predictor(tiny, convert=False)(np.zeros((0, 32, 32, 3), np.float32)).shape == (0, 2)


def test_unreadable_cache_entry_is_converted_again(cache, tiny):
    cache.mkdir(parents=True)
    (cache / f"{model_key(tiny)}.tflite").write_bytes(b"not a model")
    predictor = Predictor(tiny)
    assert predictor.backend == "tf.function"
    assert predictor.wait(120) and predictor.backend == "tflite"


def test_key_changes_with_the_weights(tiny):
    import keras

    twin = keras.models.clone_model(tiny)
    twin.set_weights([w + 1 for w in tiny.get_weights()])
    assert model_key(twin) != model_key(tiny)


def test_one_predictor_per_model(cache, tiny):
    assert predictor_for(tiny) is predictor_for(tiny)


def test_cache_dir_follows_the_settings(tmp_path, configure):
    configure(cache_dir=tmp_path)
    assert cache_dir() == tmp_path / "litert"


@pytest.mark.skipif("mask-mobilenetv2" not in shipped_models(), reason="shipped model mask-mobilenetv2 missing")
def test_shipped_mobilenetv2_within_1e3_of_keras():
    """The default cache: converted once per machine, then reused by every run."""
    model = load_model("mask-mobilenetv2").model
    predictor = predictor_for(model)
    assert predictor.wait(300) and predictor.backend == "tflite"
    batch = crops(3, 160, seed=2)
    np.testing.assert_allclose(predictor(batch), np.asarray(model(batch, training=False)), atol=1e-3)


def test_predictors_do_not_keep_their_models_alive(cache, tiny_mask_model):
    import gc
    import weakref

    model = load_model(tiny_mask_model).model
    predictor = predictor_for(model)
    predictor(crops(1, 32))
    predictor.wait(120)
    alive = weakref.ref(model)
    del model, predictor
    gc.collect()
    assert alive() is None
