"""Draw analysis results onto images for people to look at."""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from .face import Face, Prediction

COLOURS = {"with_mask": (46, 160, 67), "without_mask": (214, 39, 40)}
DEFAULT_COLOUR = (31, 119, 180)


def caption(prediction: Prediction) -> str:
    """A face's label and confidence; a similarity (identity) is shown as it is, beside the threshold it
    had to reach, never as a percentage (a cosine can be negative)."""
    label = prediction.label.replace("_", " ")
    if prediction.threshold is not None:
        return f"{label} {prediction.score:.2f} (threshold {prediction.threshold:.2f})"
    return f"{label} {prediction.score:.0%}"


def annotate(image: np.ndarray, faces: list[Face], task: str = "mask") -> Image.Image:
    """Box every face, coloured by its ``task`` label, with the label and confidence above it."""
    canvas = Image.fromarray(image)
    draw = ImageDraw.Draw(canvas)
    width = max(2, round(max(canvas.size) / 300))
    font = ImageFont.load_default(size=max(12, round(max(canvas.size) / 40)))
    for face in faces:
        x, y, w, h = face.box
        prediction = face.results.get(task)
        colour = COLOURS.get(prediction.label, DEFAULT_COLOUR) if prediction else DEFAULT_COLOUR
        draw.rectangle((x, y, x + w, y + h), outline=colour, width=width)
        if prediction:
            text = caption(prediction)
            left, top, right, bottom = draw.textbbox((x, y), text, font=font)
            ty = y - (bottom - top) - 2 * width if y - (bottom - top) - 2 * width >= 0 else y + h
            draw.rectangle((x, ty, x + (right - left) + 2 * width, ty + (bottom - top) + 2 * width), fill=colour)
            draw.text((x + width, ty + width - (top - y)), text, fill=(255, 255, 255), font=font)
    return canvas
