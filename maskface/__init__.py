"""maskface: masked-face analysis: mask detection, gender of masked faces, recognition.

>>> from maskface import Analyzer
>>> result = Analyzer().analyze("examples/astronaut.jpg")
>>> [face["mask"].label for face in result]
['without_mask']

The names below load on first use (PEP 562), so ``import maskface`` and the
CLI's ``--help`` do not wait for TensorFlow.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .analyzer import Analyzer, ImageResult
    from .face import Face, Prediction
    from .image import ImageError, load_image

#: Each public name and the module that defines it.
_EXPORTS = {
    "Analyzer": "analyzer",
    "ImageResult": "analyzer",
    "Face": "face",
    "Prediction": "face",
    "ImageError": "image",
    "load_image": "image",
}
__all__ = list(_EXPORTS)


def __getattr__(name: str):
    if name not in _EXPORTS:
        raise AttributeError(f"module 'maskface' has no attribute {name!r}")
    return getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
