"""Augmentation runs in the input pipeline or in the model's graph, and only while training."""

import keras
import numpy as np

from training.architectures import build_model
from training.augment import RandomlyApplied, build_augmenter, with_augmentation


def batch(n: int = 6, size: int = 32) -> np.ndarray:
    return np.random.default_rng(0).uniform(0, 255, (n, size, size, 3)).astype("float32")


def test_randomly_applied_touches_the_given_share_of_images():
    x = batch(200, 8)
    never = RandomlyApplied(keras.layers.Lambda(lambda v: v * 0), rate=0.0, seed=1)
    always = RandomlyApplied(keras.layers.Lambda(lambda v: v * 0), rate=1.0, seed=1)
    some = RandomlyApplied(keras.layers.Lambda(lambda v: v * 0), rate=0.2, seed=1)
    np.testing.assert_array_equal(np.asarray(never(x)), x)
    assert not np.asarray(always(x)).any()
    zeroed = (np.asarray(some(x)).reshape(200, -1) == 0).all(axis=1).mean()
    assert 0.1 < zeroed < 0.3


def test_augmentation_inside_the_model_runs_in_training_steps_only():
    model = build_model("cnn", 2, 32, weights=None)
    wrapper = with_augmentation(model, build_augmenter(0))
    x = batch()
    np.testing.assert_allclose(np.asarray(wrapper(x, training=False)), np.asarray(model(x, training=False)), atol=1e-6)
    augmented = wrapper.get_layer("train_augment")(x, training=True)
    assert np.abs(np.asarray(augmented) - x).mean() > 1.0
    # training the wrapper trains the model inside it (one graph step, as on a GPU)
    wrapper.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    before = [w.copy() for w in model.get_weights()]
    wrapper.fit(x, np.array([0, 1] * 3), epochs=1, batch_size=6, verbose=0)
    assert any(not np.allclose(a, b) for a, b in zip(before, model.get_weights()))
