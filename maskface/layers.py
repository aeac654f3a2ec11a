"""Custom Keras layers that saved models refer to: imported by :mod:`maskface.store` so any model loads.

Architectures are built by ``training.architectures``; a model needs nothing
from there to be loaded and run, only the layers registered here.
"""

from __future__ import annotations

import keras
from keras import layers


@keras.saving.register_keras_serializable(package="maskface")
class CaffePreprocess(layers.Layer):
    """VGG16's ImageNet preprocessing (RGB -> BGR, minus the ImageNet mean) as a saveable layer."""

    def call(self, inputs):
        bgr = keras.ops.flip(inputs, axis=-1)
        return bgr - keras.ops.convert_to_tensor([103.939, 116.779, 123.68], dtype=inputs.dtype)


@keras.saving.register_keras_serializable(package="maskface")
class ZeroPadAdd(layers.Layer):
    """Sum of two feature maps of different sizes, the smaller zero-padded at the bottom, right and in
    channels: dlib's ``add_prev`` (its ResNet adds 3x3x256 block outputs to 4x4x128 pooled inputs)."""

    def call(self, inputs):
        a, b = inputs
        size = [max(a.shape[i], b.shape[i]) for i in (1, 2, 3)]

        def padded(x):
            return keras.ops.pad(x, [[0, 0]] + [[0, n - x.shape[i + 1]] for i, n in enumerate(size)])

        return padded(a) + padded(b)

    def compute_output_shape(self, input_shapes):
        a, b = input_shapes
        return (a[0], *(max(a[i], b[i]) for i in (1, 2, 3)))
