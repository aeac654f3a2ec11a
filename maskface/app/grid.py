"""Grid mode of the Quick labeling tab: a page of the labeler's own queue at once, each face pre-filled.

Bulk labelling as in Argilla and Label Studio: a page shows the next faces of
the labeler's queue, the one the server holds for them
(:class:`.queues.LabelQueues`), each framed in its answer's colour and
captioned with its key, its answer and the model's suggestion. A click on a
face (or its key, ``a`` to ``x``) flips it (:data:`maskface.labels.FLIP`);
**Enter** accepts the page: its answers are stored through the one-face
mode's path (:meth:`.labeling_tab.LabelingTab.store`: the same labeler,
consent, checks and rate limit), all of the page or none of it. **z** /
Backspace undoes the last accepted page.

A page is a list of queue item ids, never crops. The API endpoints:
``page`` (an item id, task, labeler id -> the faces from that item on with
their captions, their item ids and the model's suggestions, as JSON lists)
and ``label_page`` (the item ids and the answers as JSON lists, task,
labeler name, labeler id, consent -> the record ids as a JSON list, this
labeler's count, the id of the item after the page).
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import gradio as gr

from ..draw import framed, percent
from ..labels import FLIP, PAGE_TASKS, LabelError, QueueItem, check_page, first_answer
from .common import UserError, as_warning, require, user_errors
from .queues import Labeler, Session

if TYPE_CHECKING:
    from .labeling_tab import LabelingTab

PAGE_SIZE = 24
#: The key of each face of a page, in page order (the one-face keys are hidden in grid mode).
PAGE_KEYS = "abcdefghijklmnopqrstuvwx"
MODES = [("One face at a time", "single"), ("Grid: a page of faces", "grid")]
NO_PAGE = "Grid mode labels mask or gender: choose one and build the queue."


@dataclass
class Page:
    """The shown page: where it starts in the session's queue, its answers, and the pages accepted (for undo)."""

    start: int = 0
    answers: list[str] = field(default_factory=list)
    accepted: list[tuple[int, list[str]]] = field(default_factory=list)


def caption(key: str, item: QueueItem, task: str, answer: str) -> str:
    """A face's caption: its key, its answer (marked when it differs from the model's) and the model's suggestion."""
    guess = item.predictions.get(task)
    said = f"model: {guess.label.replace('_', ' ')} {percent(guess.score)}" if guess else "no suggestion"
    changed = " (changed)" if guess is not None and guess.label != answer else ""
    return f"[{key}] {answer.replace('_', ' ')}{changed} - {said}"


class GridMode:
    """Handlers (also the API) and layout of the grid; the queue and the labeler are the labeling tab's."""

    def __init__(self, tab: LabelingTab) -> None:
        self.tab = tab
        self.services = tab.services

    @property
    def size(self) -> int:
        """Faces per page: never more than one labeler may label in a minute, so a page always fits the limit."""
        return min(PAGE_SIZE, self.services.settings.labels_per_minute)

    # ----------------------------------------------------------------------
    # The API.

    def page(
        self, item_id: str, task: str, labeler_id: str, profile: gr.OAuthProfile | None, request: gr.Request
    ) -> tuple[list, str, str]:
        """The page of this labeler's queue from ``item_id`` on: its faces (framed, captioned), their item ids and the
        model's suggestions (``{"label", "score"}`` or null), as JSON lists."""
        with user_errors("page"):
            labeler = self.tab.labeler(profile, labeler_id)
            if task not in PAGE_TASKS:
                raise UserError(NO_PAGE)
            ids = self.services.queues.following(labeler.id, (item_id or "").strip(), self.size)
            items = [self.services.queues.item(labeler.id, i, task) for i in ids]
        answers = [first_answer(item, task) for item in items]
        suggestions = [
            {"label": p.label, "score": p.score} if (p := item.predictions.get(task)) else None for item in items
        ]
        return self._tiles(items, task, answers), json.dumps(ids), json.dumps(suggestions)

    def label_page(
        self,
        item_ids: str,
        task: str,
        answers: str,
        labeler_name: str,
        labeler_id: str,
        consent: bool,
        profile: gr.OAuthProfile | None,
        request: gr.Request,
    ) -> tuple[str, int, str]:
        """Store one answer per item of this labeler's queue (JSON lists); returns the record ids (JSON), this
        labeler's count and the id of the item after the last one ("" at the queue's end)."""
        with user_errors("label"):
            labeler = self.tab.labeler(profile, labeler_id)
            ids = _json_list(item_ids, "item ids")
            record_ids = self._store(labeler, ids, task, _json_list(answers, "answers"), labeler_name, consent)
        after = self.services.queues.after(labeler.id, ids[-1])
        return json.dumps(record_ids), self.services.labels.count(labeler.id), after

    def _store(
        self, labeler: Labeler, ids: list, task: str, answers: list, labeler_name: str, consent: bool
    ) -> list[str]:
        check_page(task, ids, answers, self.size)
        items = [self.services.queues.item(labeler.id, item_id, task) for item_id in ids]
        return self.tab.store(labeler, items, task, answers, labeler_name, consent)

    # ----------------------------------------------------------------------
    # The page's events.

    def open(self, session: Session, page: Page, labeler_id: str, profile: gr.OAuthProfile | None) -> tuple:
        """The page from the session's position on, every face pre-filled with the model's answer."""
        page = Page(session.position, [], list(page.accepted))
        items = self._items(session, page, self.tab.labeler_key(profile, labeler_id))
        if items is not None:
            page.answers = [first_answer(item, session.task) for item in items]
        return self._show(session, page, profile, labeler_id)

    def flip(
        self, session: Session, page: Page, labeler_id: str, profile: gr.OAuthProfile | None, evt: gr.EventData
    ) -> tuple:
        """A face's key flips its answer."""
        index = PAGE_KEYS.index(evt.target.elem_id.removeprefix("grid-key-"))
        return self._flipped(session, page, labeler_id, profile, index)

    def clicked(
        self, session: Session, page: Page, labeler_id: str, profile: gr.OAuthProfile | None, evt: gr.SelectData
    ) -> tuple:
        """A click on a face flips its answer."""
        return self._flipped(session, page, labeler_id, profile, int(evt.index))

    def accept(
        self,
        session: Session,
        page: Page,
        labeler_name: str,
        labeler_id: str,
        consent: bool,
        profile: gr.OAuthProfile | None,
    ) -> tuple:
        """Store the page's answers (all or none), then open the next page; the last output is this labeler's count."""
        with user_errors("label"):
            labeler = self.tab.labeler(profile, labeler_id)
            ids = require(
                session.items[page.start : page.start + len(page.answers)], "No faces on this page: build the queue."
            )
            record_ids = self._store(labeler, ids, session.task, page.answers, labeler_name, consent)
        page = dataclasses.replace(page, accepted=[*page.accepted, (page.start, record_ids)])
        session = dataclasses.replace(session, position=page.start + len(ids))
        return (*self.open(session, page, labeler_id, profile), self.services.labels.count(labeler.id))

    def undo(self, session: Session, page: Page, labeler_id: str, count: int, profile: gr.OAuthProfile | None) -> tuple:
        """Remove the last accepted page's labels and show that page again as it was answered."""
        if not page.accepted:
            gr.Info("No accepted page to undo.")
            return (*self._show(session, page, profile, labeler_id), count)
        with user_errors("label"):
            labeler = self.tab.labeler(profile, labeler_id)
            start, record_ids = page.accepted[-1]
            answers = []
            for record_id in record_ids:
                try:
                    answers.append(self.services.labels.undo(record_id, labeler.id)["label"])
                except LabelError:  # deleted since ("Delete my contributions"): nothing left to undo
                    answers.append(None)
        session = dataclasses.replace(session, position=start)
        page = Page(start, answers, page.accepted[:-1])
        items = self._items(session, page, labeler.id) or []
        page.answers = [a or first_answer(item, session.task) for a, item in zip(answers, items)]
        return (*self._show(session, page, profile, labeler_id), self.services.labels.count(labeler.id))

    def _flipped(
        self, session: Session, page: Page, labeler_id: str, profile: gr.OAuthProfile | None, index: int
    ) -> tuple:
        if not 0 <= index < len(page.answers):
            raise gr.Error("No face there on this page.", print_exception=False)
        page = dataclasses.replace(page, answers=list(page.answers))
        page.answers[index] = FLIP[page.answers[index]]
        return self._show(session, page, profile, labeler_id)

    def _items(self, session: Session, page: Page, labeler: str) -> list[QueueItem] | None:
        """The queue items of the page's place in the session (None: the queue expired, or is not for a page)."""
        if session.task not in PAGE_TASKS:
            return None
        try:
            return [
                self.services.queues.item(labeler, item_id, session.task)
                for item_id in session.items[page.start : page.start + self.size]
            ]
        except LabelError:
            return None

    def _tiles(self, items: list[QueueItem], task: str, answers: list[str]) -> list[tuple]:
        return [
            (framed(item.crop, answer), caption(key, item, task, answer))
            for key, item, answer in zip(PAGE_KEYS, items, answers)
        ]

    def _show(self, session: Session, page: Page, profile: gr.OAuthProfile | None, labeler_id: str) -> tuple:
        """The session, the page, the gallery of framed faces and a line about the page."""
        items = self._items(session, page, self.tab.labeler_key(profile, labeler_id))
        if session.task not in PAGE_TASKS:
            text = NO_PAGE
        elif items is None:
            session, page = dataclasses.replace(session, items=[], position=0), Page()
            text = "Your queue expired: build it again."
        elif page.answers:
            end = page.start + len(page.answers)
            text = (
                f"Faces {page.start + 1}-{end} of {len(session.items)}. Click a face (or press its key) to flip it; "
                "**Enter** accepts the page."
            )
        elif session.items:
            text = f"**Queue done**: {len(page.accepted)} page(s) accepted. Add photos and build a new queue to go on."
        else:
            text = "Upload photos (or choose a folder) and build the queue."
        tiles = self._tiles(items or [], session.task, page.answers)
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
        return GridParts(mode, column, gr.State(Page()), faces, info, keys, accept, undo)

    def wire(
        self,
        parts: GridParts,
        session,
        task,
        item_id,
        labeler_name,
        labeler_id,
        consent,
        count,
        single,
        opened: list,
        concurrency: int,
    ) -> None:
        """The grid's events. ``single`` is the one-face column the grid replaces; after each event of
        ``opened`` (the queue built, the task switched) the grid opens its first page; label writes share
        the tab's ``concurrency``."""
        page = parts.page
        shown = [session, page, parts.faces, parts.info]
        writes = {"concurrency_limit": concurrency, "concurrency_id": "labels"}
        quiet = {"api_visibility": "private", "show_progress": "hidden"}

        def switch(chosen: str, session: Session, page: Page, labeler_id: str, profile: gr.OAuthProfile | None):
            grid_on = chosen == "grid"
            columns = (gr.update(visible=not grid_on), gr.update(visible=grid_on))
            return (*columns, *self.open(session, page, labeler_id, profile))

        parts.mode.change(switch, [parts.mode, session, page, labeler_id], [single, parts.column, *shown], **quiet)
        for event in opened:
            event.then(self.open, [session, page, labeler_id], shown, **quiet)
        parts.faces.select(as_warning(self.clicked, len(shown)), [session, page, labeler_id], shown, **quiet)
        keys = [button.click for button in parts.keys]
        gr.on(keys, as_warning(self.flip, len(shown)), [session, page, labeler_id], shown, **quiet)
        parts.accept.click(
            as_warning(self.accept, len(shown) + 1),
            [session, page, labeler_name, labeler_id, consent],
            [*shown, count],
            trigger_mode="once",
            **quiet,
            **writes,
        )
        parts.undo.click(
            as_warning(self.undo, len(shown) + 1),
            [session, page, labeler_id, count],
            [*shown, count],
            trigger_mode="once",
            **quiet,
            **writes,
        )
        share = self.services.share
        page_ids, suggestions, answers, record_ids = (gr.Textbox(visible=False, label=label) for label in API_TEXTS)
        tiles = gr.Gallery(visible=False, label="faces")
        share.listen(
            gr.Button(visible=False).click,
            self.page,
            [item_id, task, labeler_id],
            [tiles, page_ids, suggestions],
            api_name="page",
            **writes,
        )
        share.listen(
            gr.Button(visible=False).click,
            self.label_page,
            [page_ids, task, answers, labeler_name, labeler_id, consent],
            [record_ids, count, item_id],
            api_name="label_page",
            **writes,
        )


#: The hidden text boxes of the API endpoints: the page's item ids, the suggestions, the answers, the record ids.
API_TEXTS = ("item ids (JSON list)", "suggestions (JSON list)", "answers (JSON list)", "record ids (JSON list)")


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


def _json_list(text: str, what: str) -> list:
    """A JSON list from the API's text; a :class:`LabelError` in the caller's words otherwise."""
    try:
        value = json.loads(text) if text else None
    except json.JSONDecodeError:
        value = None
    if not isinstance(value, list):
        raise LabelError(f"{what} must be a JSON list")
    return value
