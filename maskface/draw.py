"""Draw analysis results onto images for people to look at."""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from .face import Face

COLOURS = {"with_mask": (46, 160, 67), "without_mask": (214, 39, 40)}
DEFAULT_COLOUR = (31, 119, 180)


def percent(score: float) -> str:
    """A probability for people: whole percents, one decimal from 99.5% on, and never "100%": a model's
    0.996 is not certainty, and even a float32 output of exactly 1 is a saturated softmax."""
    if score < 0.995:
        return f"{score:.0%}"
    if score < 0.999:
        return f"{int(score * 1000) / 10:.1f}%"
    return ">99.9%"


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
            text = f"{prediction.label.replace('_', ' ')} {percent(prediction.score)}"
            left, top, right, bottom = draw.textbbox((x, y), text, font=font)
            ty = y - (bottom - top) - 2 * width if y - (bottom - top) - 2 * width >= 0 else y + h
            draw.rectangle((x, ty, x + (right - left) + 2 * width, ty + (bottom - top) + 2 * width), fill=colour)
            draw.text((x + width, ty + width - (top - y)), text, fill=(255, 255, 255), font=font)
    return canvas
