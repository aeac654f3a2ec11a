"""Helpers every tab uses: user-facing errors, example photos, side-by-side panels."""

from __future__ import annotations

import functools
import logging
import re
from collections.abc import Callable, Iterator
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


#: The folders of an absolute path (a server's: Gradio's upload folder, the data folders), not a URL's.
_FOLDERS = re.compile(r"(?<![\w.:/~])/(?:[^/\s'\"]+/)+")
#: The error number Python puts before a system error's words ("[Errno 1094995529] Invalid data ...").
_ERRNO = re.compile(r"\[Errno -?\d+\]\s*")
#: An operator's setting quoted in a library message: "(set MASKFACE_X to change it)", "; set MASKFACE_X ...".
_SETTING_HINTS = (
    re.compile(r"\s*\((?:set |see )?MASKFACE_\w+[^)]*\)"),
    re.compile(r";\s*set MASKFACE_\w+[^);]*"),
    re.compile(r"MASKFACE_\w+"),
)


def for_visitor(message: str) -> str:
    """``message`` as a visitor may read it: files by their own name, no server folder, no operator setting.

    The library's messages are written for the person at the machine: they name
    files by their path (for an upload, Gradio's ``<temp>/<hash>/<original name>``)
    and the setting that changes a limit. A visitor sees the file's name and the
    limit; the settings are the operator's, in the README.
    """
    message = _ERRNO.sub("", _FOLDERS.sub("", message))
    for hint in _SETTING_HINTS[:2]:
        message = hint.sub("", message)
    return _SETTING_HINTS[2].sub("a server setting", message)


@contextmanager
def user_errors(action: str) -> Iterator[None]:
    """Turn errors meant for users into a ``gr.Error`` and one log line naming ``action`` and the kind of error.

    The library's errors for bad input, :class:`UserError` and refusals are all
    ``ValueError``s whose messages are meant for users (put in a visitor's words by
    :func:`for_visitor`). The log line carries neither the message nor a traceback:
    messages may quote what the user typed (a name). Any other exception is a bug
    and keeps its traceback.
    """
    try:
        yield
    except ValueError as err:
        log.info("%s refused: %s", action, type(err).__name__)
        raise gr.Error(for_visitor(str(err)), print_exception=False) from None


def as_warning(handler: Callable, outputs: int) -> Callable:
    """``handler`` for the page: a user error becomes a warning toast and its ``outputs`` stay as they were.

    A ``gr.Error`` raised into an event puts Gradio's red "Error" badge over every
    output of that event (the people list, a counter, a checkbox that then cannot be
    ticked); the API endpoints keep raising it (:func:`page_and_api`).
    """

    @functools.wraps(handler)
    def run(*args, **kwargs):
        try:
            return handler(*args, **kwargs)
        except gr.Error as err:
            gr.Warning(err.message)
            return gr.skip() if outputs == 1 else tuple(gr.skip() for _ in range(outputs))

    return run


def page_and_api(listen: Callable, trigger: Callable, handler: Callable, inputs: list, outputs: list, api_name: str, **options):
    """Wire ``handler`` twice: on ``trigger`` for the page (:func:`as_warning`) and as the API endpoint ``api_name``.

    The endpoint hangs on a hidden button so that API clients still get the error
    itself. ``listen(listener, handler, inputs, outputs, **options)`` wires an event
    (``SessionShare.listen``, or :func:`plain`). Returns the page's event.
    """
    listen(gr.Button(visible=False).click, handler, inputs, outputs, api_name=api_name, **options)
    return listen(trigger, as_warning(handler, len(outputs)), inputs, outputs, api_visibility="private", **options)


def plain(listener: Callable, handler: Callable, inputs: list, outputs: list, **options):
    """``listener(handler, inputs, outputs, ...)``: an event not counted against the session's share."""
    return listener(handler, inputs, outputs, **options)


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
