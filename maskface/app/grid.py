"""Grid mode of the Quick labeling tab: a page of faces at once, each pre-filled with the model's answer.

Bulk labelling as in Argilla and Label Studio: the labeler looks over a page
of :data:`PAGE_SIZE` faces of the queue, each framed in its answer's colour
and captioned with its key, the answer and the model's suggestion; a click on
a face (or its key, ``a`` to ``x``) flips it (female -> male -> unsure ->
female; with -> without mask -> with), and **Enter** accepts the whole page:
every face is stored with its answer and the suggestion shown
(:meth:`GridMode.accept`). **z** / Backspace undoes the last accepted page.

The store call is also the API endpoint ``label_page`` (crops, task, the
answers and suggestions as JSON lists, labeler name and id, consent -> the
record ids as a JSON list, this labeler's count). Faces of a server folder
(``MASKFACE_UNLABELLED_DIR``) keep the photo and box they came from, so
``python -m maskface labels export`` can turn them into rows of a labels
dataset naming the shared photos (:mod:`maskface.labelset`).
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path

import gradio as gr
import numpy as np
from PIL import Image, ImageOps

from ..face import Prediction
from ..labels import TASK_LABELS, UNSURE, LabelError, QueueItem
from .common import percent, require, user_errors
from .services import Services

PAGE_SIZE = 24
#: The key of each face of a page, in page order (the single-face keys are hidden in grid mode).
PAGE_KEYS = "abcdefghijklmnopqrstuvwx"
#: What a click or a key turns an answer into.
FLIP = {"female": "male", "male": UNSURE, UNSURE: "female", "with_mask": "without_mask", "without_mask": "with_mask"}
#: Frame colours of the answers (RGB), so a page reads at a glance.
FRAMES = {
    "female": (214, 51, 132),
    "male": (31, 119, 180),
    UNSURE: (150, 150, 150),
    "with_mask": (46, 160, 67),
    "without_mask": (214, 39, 40),
}
TILE = 128
MODES = [("One face at a time", "single"), ("Grid: a page of faces", "grid")]


@dataclass
class Page:
    """The grid's page: where it starts in the session's queue, its answers, and the pages accepted (for undo)."""

    start: int = 0
    answers: list[str] = field(default_factory=list)
    accepted: list[tuple[int, list[str]]] = field(default_factory=list)


def first_answer(item: QueueItem, task: str) -> str:
    """A face's answer before the labeler touches it: the model's, or the task's first label without one."""
    guess = item.predictions.get(task)
    return guess.label if guess is not None else TASK_LABELS[task][0]


def tile(item: QueueItem, answer: str) -> np.ndarray:
    """The face's crop framed in its answer's colour."""
    crop = Image.fromarray(item.crop).resize((TILE - 12, TILE - 12))
    return np.asarray(ImageOps.expand(crop, border=6, fill=FRAMES.get(answer, (0, 0, 0))))


class GridMode:
    """Handlers (also the API) and layout of the grid; the queue is the labeling tab's session."""

    def __init__(self, services: Services) -> None:
        self.services = services

    # ----------------------------------------------------------------------
    # Handlers.

    def label_page(
        self,
        crops: list | None,
        task: str,
        answers: str,
        suggestions: str,
        labeler_name: str,
        labeler_id: str,
        consent: bool,
        sources: list[dict | None] | None = None,
    ) -> tuple[str, int]:
        """Store one label per crop, every answer checked first; returns the record ids (JSON) and this labeler's count.

        ``answers`` is a JSON list of labels; ``suggestions`` a JSON list of
        ``{"label", "score"}`` (or null) shown for each face. ``sources``
        (the UI's) name each face's server photo and box.
        """
        images = [crop[0] if isinstance(crop, (tuple, list)) else crop for crop in require(crops, "There is no face to label.")]
        with user_errors():
            labels, shown = _json_list(answers, "answers"), _json_list(suggestions or "null", "suggestions", len(images))
            if len(labels) != len(images):
                raise LabelError(f"give one answer per face: {len(images)} faces, {len(labels)} answers")
            if task not in TASK_LABELS or TASK_LABELS[task] is None:
                raise LabelError("grid mode labels mask or gender; identity takes a typed name, one face at a time")
            for label in labels:
                if label not in TASK_LABELS[task]:
                    raise LabelError(f"{label!r} is not a {task} label; choose one of {', '.join(TASK_LABELS[task])}")
            if consent is not True:
                raise LabelError("labels are stored only with the contributor's consent: tick the consent box first")
            ids = []
            for k, (image, label) in enumerate(zip(images, labels)):
                where = (sources or [None] * len(images))[k] or {}
                guess = shown[k]
                ids.append(
                    self.services.labels.add(
                        image,
                        task,
                        label,
                        labeler_id=(labeler_id or "").strip(),
                        consent=True,
                        labeler_name=labeler_name,
                        prediction=Prediction(guess["label"], float(guess["score"])) if guess else None,
                        **where,
                    )
                )
        return json.dumps(ids), self.services.labels.count((labeler_id or "").strip())

    def open(self, session, page: Page | None = None) -> tuple:
        """The page starting at the session's position, every face pre-filled with the model's answer."""
        page = dataclasses.replace(page or Page(), accepted=list((page or Page()).accepted))
        items = session.items[session.position : session.position + PAGE_SIZE]
        page.start = session.position
        page.answers = [first_answer(item, session.task) for item in items]
        return self._show(session, page)

    def flip(self, session, page: Page, index: int) -> tuple:
        """Flip one face's answer (a click on it, or its key)."""
        if not 0 <= index < len(page.answers):
            raise gr.Error("No face there on this page.")
        page = dataclasses.replace(page, answers=list(page.answers))
        page.answers[index] = FLIP[page.answers[index]]
        return self._show(session, page)

    def clicked(self, session, page: Page, evt: gr.SelectData) -> tuple:
        """A click on a face flips it."""
        return self.flip(session, page, int(evt.index))

    def accept(self, session, page: Page, labeler_name: str, labeler_id: str, consent: bool, count: int) -> tuple:
        """Store the page's answers, then open the next page."""
        items = require(session.items[page.start : page.start + len(page.answers)], "No faces on this page: build the queue.")
        if session.task not in ("mask", "gender"):
            raise gr.Error("Grid mode labels mask or gender: choose one, and build the queue again.")
        suggestions = [
            {"label": p.label, "score": p.score} if (p := item.predictions.get(session.task)) else None for item in items
        ]
        ids, count = self.label_page(
            [item.crop for item in items],
            session.task,
            json.dumps(page.answers),
            json.dumps(suggestions),
            labeler_name,
            labeler_id,
            consent,
            [self._source(item) for item in items],
        )
        page = dataclasses.replace(page, accepted=[*page.accepted, (page.start, json.loads(ids))])
        session = dataclasses.replace(session, position=page.start + len(items))
        return (*self.open(session, page), count)

    def undo(self, session, page: Page, labeler_id: str, count: int) -> tuple:
        """Remove the last accepted page's labels and show that page again, as it was answered."""
        if not page.accepted:
            gr.Info("No accepted page to undo.")
            return (*self._show(session, page), count)
        page = dataclasses.replace(page, accepted=list(page.accepted))
        start, ids = page.accepted.pop()
        removed = []
        with user_errors():
            for record_id in ids:
                removed.append(self.services.labels.undo(record_id, (labeler_id or "").strip())["label"])
        session = dataclasses.replace(session, position=start)
        page.start, page.answers = start, removed
        return (*self._show(session, page), self.services.labels.count((labeler_id or "").strip()))

    def _source(self, item: QueueItem) -> dict | None:
        """The face's photo (relative to the unlabelled-images folder) and box, for server photos only."""
        root = self.services.settings.unlabelled_dir.resolve()
        path = Path(item.source).resolve()
        if root not in path.parents:
            return None
        return {"source_file": path.relative_to(root).as_posix(), "box": list(item.box)}

    def _show(self, session, page: Page) -> tuple:
        """The session, the page, the gallery of framed faces with captions, and a line about the page."""
        items = session.items[page.start : page.start + len(page.answers)]
        tiles = []
        for key, item, answer in zip(PAGE_KEYS, items, page.answers):
            guess = item.predictions.get(session.task)
            said = f"model: {guess.label.replace('_', ' ')} {percent(guess.score)}" if guess else "no suggestion"
            changed = " (changed)" if guess is not None and guess.label != answer else ""
            tiles.append((tile(item, answer), f"[{key}] {answer.replace('_', ' ')}{changed} - {said}"))
        if items:
            end = page.start + len(items)
            text = (
                f"Faces {page.start + 1}-{end} of {len(session.items)}. Click a face (or press its key) to flip it; "
                "**Enter** accepts the page."
            )
        elif session.items:
            text = f"**Queue done**: {len(page.accepted)} page(s) accepted. Add photos and build a new queue to go on."
        else:
            text = "Upload photos (or choose a folder) and build the queue."
        return session, page, gr.Gallery(value=tiles, selected_index=None), text

    # ----------------------------------------------------------------------
    # Layout.

    def layout(self) -> GridParts:
        """The mode switch and the grid, hidden until chosen (inside the labeling tab's layout)."""
        mode = gr.Radio(MODES, value="single", label="Mode", elem_id="label-mode")
        with gr.Column(visible=False) as column:
            faces = gr.Gallery(
                label="Faces (click one to flip it)", columns=8, allow_preview=False, height="auto", elem_id="grid-faces"
            )
            info = gr.Markdown(elem_id="grid-info")
            with gr.Row():
                keys = [gr.Button(key, size="sm", min_width=30, elem_id=f"grid-key-{key}") for key in PAGE_KEYS]
            with gr.Row():
                accept = gr.Button("Accept page [Enter]", variant="primary", elem_id="grid-key-enter")
                undo = gr.Button("Undo last page [z]", elem_id="grid-key-z")
            # the API endpoint `label_page`: the store call alone
            api = [
                gr.Gallery(visible=False, label="crops"),
                gr.Textbox(visible=False, label="answers (JSON list)"),
                gr.Textbox(visible=False, label="suggestions (JSON list)"),
                gr.Textbox(visible=False, label="record ids (JSON list)"),
                gr.Button(visible=False),
            ]
        return GridParts(mode, column, gr.State(Page()), faces, info, keys, accept, undo, api)

    def wire(self, parts: GridParts, session, task, labeler_name, labeler_id, consent, count, single, built, concurrency: int):
        """The grid's events: ``single`` is the one-face column the grid replaces, ``built`` the queue-building
        event (after it a shown grid opens its first page); label writes share the tab's ``concurrency``."""
        page = parts.page
        shown = [session, page, parts.faces, parts.info]
        writes = {"concurrency_limit": concurrency, "concurrency_id": "labels"}
        quiet = {"api_visibility": "private", "show_progress": "hidden"}

        def switch(chosen: str, session, page: Page):
            grid_on = chosen == "grid"
            if grid_on and session.task not in ("mask", "gender"):
                gr.Info("Grid mode labels mask or gender.")
            return (gr.update(visible=not grid_on), gr.update(visible=grid_on), *self.open(session, page))

        parts.mode.change(switch, [parts.mode, session, page], [single, parts.column, *shown], **quiet)
        built.then(self.open, [session, page], shown, **quiet)
        parts.faces.select(self.clicked, [session, page], shown, **quiet)
        for number, button in enumerate(parts.keys):
            button.click(lambda session, page, n=number: self.flip(session, page, n), [session, page], shown, **quiet)
        parts.accept.click(
            self.accept,
            [session, page, labeler_name, labeler_id, consent, count],
            [*shown, count],
            trigger_mode="once",
            **quiet,
            **writes,
        )
        parts.undo.click(self.undo, [session, page, labeler_id, count], [*shown, count], trigger_mode="once", **quiet, **writes)
        crops, answers, suggestions, record_ids, button = parts.api
        button.click(
            self.label_page,
            [crops, task, answers, suggestions, labeler_name, labeler_id, consent],
            [record_ids, count],
            api_name="label_page",
            **writes,
        )


@dataclass
class GridParts:
    """The grid's components, made by :meth:`GridMode.layout` and wired by :meth:`GridMode.wire`."""

    mode: gr.Radio
    column: gr.Column
    page: gr.State
    faces: gr.Gallery
    info: gr.Markdown
    keys: list[gr.Button]
    accept: gr.Button
    undo: gr.Button
    api: list


def _json_list(text: str, what: str, length: int | None = None) -> list:
    """A JSON list from the API's text (null: ``length`` nulls); a clear error otherwise."""
    try:
        value = json.loads(text) if text else None
    except json.JSONDecodeError:
        raise LabelError(f"{what} must be a JSON list") from None
    if value is None and length is not None:
        return [None] * length
    if not isinstance(value, list) or (length is not None and len(value) != length):
        raise LabelError(f"{what} must be a JSON list" + (f" of {length} items" if length is not None else ""))
    return value
