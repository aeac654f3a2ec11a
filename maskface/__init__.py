"""maskface: masked-face analysis: mask detection, gender of masked faces, recognition.

>>> from maskface import Analyzer
>>> faces = Analyzer().analyze("photo.jpg")
"""

import os

# onnxruntime (the face detector) otherwise sends usage telemetry and writes a session file; it
# reads the variable once, at import, so it is set before anything imports onnxruntime.
os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")

from .analyzer import Analyzer, ImageResult  # noqa: E402
from .face import Face, Prediction  # noqa: E402
from .image import ImageError, load_image  # noqa: E402

__all__ = ["Analyzer", "Face", "ImageError", "ImageResult", "Prediction", "load_image"]
