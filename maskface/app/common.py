"""Helpers every tab uses: user-facing errors, example photos, side-by-side panels."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import gradio as gr
from PIL import Image, ImageDraw, ImageFont

from ..draw import percent
from ..face import Face, Prediction

#: Photos shipped with the app to click on (package data; in a checkout, a link to the repo's ``examples/``,
#: whose SOURCES.md gives their sources and licences).
EXAMPLES_DIR = Path(__file__).parent / "examples"


def example(name: str) -> str:
    """The path of a shipped example file."""
    return str(EXAMPLES_DIR / name)


@contextmanager
def user_errors() -> Iterator[None]:
    """Turn the library's errors for bad input (all ``ValueError``s with messages meant for users) into ``gr.Error``."""
    try:
        yield
    except ValueError as err:
        raise gr.Error(str(err)) from err


def require(value, message: str):
    """``value``, or a ``gr.Error`` saying ``message`` when it is missing (None, empty)."""
    if value is None or (hasattr(value, "__len__") and len(value) == 0):
        raise gr.Error(message)
    return value


def box(face: Face) -> list[int]:
    return [int(round(v)) for v in face.box]


def shown_score(score: float) -> float:
    """A probability for a table: three decimals, at most 0.999 (see :func:`maskface.draw.percent`)."""
    return min(round(float(score), 3), 0.999)


def described(prediction: Prediction) -> str:
    """A prediction in words, e.g. "with mask 97%"."""
    return f"{prediction.label.replace('_', ' ')} {percent(prediction.score)}"


def side_by_side(panels: list[tuple[str, Image.Image]]) -> Image.Image:
    """Annotated copies of one image next to each other, each under its title."""
    width, height = panels[0][1].size
    font = ImageFont.load_default(size=max(14, width // 25))
    band = font.size * 2
    canvas = Image.new("RGB", (width * len(panels), height + band), "white")
    draw = ImageDraw.Draw(canvas)
    for i, (title, image) in enumerate(panels):
        canvas.paste(image, (i * width, band))
        draw.text((i * width + width // 2, band // 2), title, fill=(20, 20, 20), font=font, anchor="mm")
    return canvas
