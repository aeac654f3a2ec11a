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
