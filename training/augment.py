"""Training-time augmentation with keras-cv, in the input pipeline or in the model's graph.

The papers' set (flips, rotation, zoom, shift, shear, brightness, contrast)
plus colour and blur jitter: our users' photos come from phone cameras under
any light, not from the tidy photos we train on.

The same augmenter runs in one of two places (``--augment-on``):

- ``pipeline``: a ``tf.data`` map on the host CPU, overlapped with training by prefetch;
- ``model``: the first layer of a training-only wrapper model (:func:`with_augmentation`),
  so on a GPU it runs on the accelerator, per replica, and the host only feeds raw pixels.
"""

from __future__ import annotations

import keras
import keras_cv
from keras import layers


class RandomlyApplied(layers.Layer):
    """Apply ``layer`` to a random ``rate`` of the images of a batch.

    keras-cv's ``RandomApply`` branches with a Python ``if`` on a tensor, which
    only works under ``tf.data``'s autograph; this selects per image with
    ``where``, so it also runs inside a model's graph.
    """

    def __init__(self, layer: layers.Layer, rate: float, seed: int | None = None, **kwargs):
        super().__init__(**kwargs)
        self.layer = layer
        self.rate = rate
        self.seed_generator = keras.random.SeedGenerator(seed)

    def build(self, input_shape):
        self.layer.build(input_shape)

    def call(self, images):
        pick = keras.random.uniform((keras.ops.shape(images)[0], 1, 1, 1), seed=self.seed_generator) < self.rate
        return keras.ops.where(pick, self.layer(images), images)


AUGMENTATIONS = ("standard", "strong")


def build_augmenter(seed: int = 0, strength: str = "standard") -> keras.Sequential:
    """A random augmentation pipeline for batches of float32 RGB images in [0, 255].

    ``strong`` widens every range and adds JPEG artefacts, grey-scale photos
    and more blur: what phone and web photos do to faces that press photos do not.
    Its layers always augment (keras-cv ignores ``training``); use
    :func:`with_augmentation` to put it in a model. Build it under a float32
    policy: keras-cv's geometry is not written for float16.
    """
    if strength not in AUGMENTATIONS:
        raise ValueError(f"augmentation is one of {', '.join(AUGMENTATIONS)}, not {strength!r}")
    strong = strength == "strong"
    value_range = (0, 255)
    grey = {"fill_mode": "constant", "fill_value": 127.0, "seed": seed}
    steps = [
        keras_cv.layers.RandomFlip("horizontal", seed=seed),
        keras_cv.layers.RandomRotation(0.08 if strong else 0.05, **grey),
        keras_cv.layers.RandomZoom((-0.2, 0.2) if strong else (-0.15, 0.15), **grey),
        keras_cv.layers.RandomTranslation(0.1 if strong else 0.08, 0.1 if strong else 0.08, **grey),
        keras_cv.layers.RandomShear(0.2 if strong else 0.1, 0.15 if strong else 0.1, **grey),
        keras_cv.layers.RandomBrightness(0.3 if strong else 0.2, value_range=value_range, seed=seed),
        keras_cv.layers.RandomContrast(value_range=value_range, factor=0.4 if strong else 0.25, seed=seed),
        keras_cv.layers.RandomSaturation((0.2, 0.8) if strong else (0.3, 0.7), seed=seed),
        RandomlyApplied(
            keras_cv.layers.RandomGaussianBlur(kernel_size=5, factor=(0.0, 2.5 if strong else 1.5)),
            rate=0.35 if strong else 0.2,
            seed=seed,
        ),
    ]
    if strong:
        steps += [
            keras_cv.layers.RandomHue(0.05, value_range=value_range, seed=seed),
            RandomlyApplied(keras_cv.layers.Grayscale(output_channels=3), rate=0.1, seed=seed),
            RandomlyApplied(keras_cv.layers.RandomJpegQuality((25, 90), seed=seed), rate=0.5, seed=seed),
        ]
    steps.append(layers.Lambda(lambda x: keras.ops.clip(x, 0.0, 255.0)))
    return keras.Sequential(steps, name="augment")


class TrainingOnly(layers.Layer):
    """Run ``layer`` in training steps only; validation and prediction see the pixels as they are."""

    def __init__(self, layer: layers.Layer, **kwargs):
        super().__init__(**kwargs)
        self.layer = layer

    def build(self, input_shape):
        self.layer.build(input_shape)

    def call(self, images, training=None):
        return self.layer(images) if training else images


def with_augmentation(model: keras.Model, augmenter: keras.Layer) -> keras.Model:
    """A wrapper that augments, then calls ``model``: train the wrapper, save ``model``."""
    size = model.input_shape[1:]
    pixels = keras.Input(size, name="pixels", dtype="float32")
    augmented = TrainingOnly(augmenter, dtype="float32", name="train_augment")(pixels)
    return keras.Model(pixels, model(augmented), name=f"{model.name}_augmented")
