"""Helpers every tab uses: user-facing errors, example photos, side-by-side panels."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import gradio as gr
from PIL import Image, ImageDraw, ImageFont

from ..draw import percent
from ..face import Face, Prediction

log = logging.getLogger(__name__)

#: Photos shipped with the app to click on (package data; in a checkout, a link to the repo's ``examples/``,
#: whose SOURCES.md gives their sources and licences).
EXAMPLES_DIR = Path(__file__).parent / "examples"


def example(name: str) -> str:
    """The path of a shipped example file."""
    return str(EXAMPLES_DIR / name)


class UserError(ValueError):
    """A request refused for a reason of its own (missing input, no consent); the message is for the user."""


@contextmanager
def user_errors(action: str) -> Iterator[None]:
    """Turn errors meant for users into a ``gr.Error`` and one log line naming ``action`` and the kind of error.

    The library's errors for bad input, :class:`UserError` and refusals are all
    ``ValueError``s whose messages are meant for users as they are. The log line
    carries neither the message nor a traceback: messages may quote what the
    user typed (a name). Any other exception is a bug and keeps its traceback.
    """
    try:
        yield
    except ValueError as err:
        log.info("%s refused: %s", action, type(err).__name__)
        raise gr.Error(str(err), print_exception=False) from None


def require(value, message: str):
    """``value``, or a :class:`UserError` saying ``message`` when it is missing (None, empty)."""
    if value is None or (hasattr(value, "__len__") and len(value) == 0):
        raise UserError(message)
    return value


def box(face: Face) -> list[int]:
    return [int(round(v)) for v in face.box]


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
