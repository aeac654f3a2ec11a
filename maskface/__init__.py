"""maskface: masked-face analysis: mask detection, gender of masked faces, recognition.

>>> from maskface import Analyzer
>>> faces = Analyzer().analyze("photo.jpg")
"""

from .analyzer import Analyzer, ImageResult
from .face import Face, Prediction
from .image import ImageError, load_image

__all__ = ["Analyzer", "Face", "ImageError", "ImageResult", "Prediction", "load_image"]
