"""Training-time augmentation with keras-cv.

The papers' set (flips, rotation, zoom, shift, shear, brightness, contrast)
plus colour and blur jitter: our users' photos come from phone cameras under
any light, not from the tidy photos we train on.
"""

from __future__ import annotations

import keras
import keras_cv
from keras import layers


def build_augmenter(seed: int = 0) -> keras.Sequential:
    """A random augmentation pipeline for batches of RGB images in [0, 255]."""
    value_range = (0, 255)
    return keras.Sequential(
        [
            keras_cv.layers.RandomFlip("horizontal", seed=seed),
            keras_cv.layers.RandomRotation(0.05, fill_mode="constant", fill_value=127.0, seed=seed),
            keras_cv.layers.RandomZoom((-0.15, 0.15), fill_mode="constant", fill_value=127.0, seed=seed),
            keras_cv.layers.RandomTranslation(0.08, 0.08, fill_mode="constant", fill_value=127.0, seed=seed),
            keras_cv.layers.RandomShear(0.1, 0.1, fill_mode="constant", fill_value=127.0, seed=seed),
            keras_cv.layers.RandomBrightness(0.2, value_range=value_range, seed=seed),
            keras_cv.layers.RandomContrast(value_range=value_range, factor=0.25, seed=seed),
            keras_cv.layers.RandomSaturation((0.3, 0.7), seed=seed),
            keras_cv.layers.RandomApply(
                keras_cv.layers.RandomGaussianBlur(kernel_size=5, factor=(0.0, 1.5)), rate=0.2, seed=seed
            ),
            layers.Lambda(lambda x: keras.ops.clip(x, 0.0, 255.0)),
        ],
        name="augment",
    )
