"""The Quick labeling tab: a queue of face crops, least confident first, one key per answer.

The queue (:func:`maskface.labels.build_queue`) lives in the browser
session's memory; a crop is written only when its labeler answers, with the
consent box ticked, into the label store (:class:`maskface.labels.LabelStore`,
``datasets``' imagefolder layout). Keys (bound in ``keys.js``): ``m`` / ``n``
with / without mask, ``f`` / ``g`` / ``u`` female / male / unsure, a name and
Enter for identity, Enter accepts the model's suggestion, ``s`` skips, ``z``
or Backspace undoes the last label.

Every action of the session is one event (:meth:`LabelingTab.act`) that is
not re-triggered while it runs, so fast typing never labels a face twice.
The same store call is the API endpoint ``label``.

"Delete my contributions" removes every label of this browser's labeler id,
once the labeler ticks the box that confirms it: the API endpoint
``delete_contributions``, over :meth:`maskface.labels.LabelStore.delete_contributions`.
Not by name: names are not verified, so anyone could type someone else's;
deleting by name is the maintainers' ``python -m maskface labels delete --name``.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path

import gradio as gr
import numpy as np

from ..analyzer import Analyzer
from ..gallery import UNKNOWN, Gallery
from ..image import iter_image_files
from ..labels import UNSURE, LabelQueue, QueueItem, build_queue, new_labeler_id
from .common import example, percent, require, user_errors
from .grid import GridMode
from .services import Services

#: At most this many photos per queue: the crops stay in the server's memory while the session lasts.
MAX_QUEUE_IMAGES = 60
TASK_CHOICES = [("Mask", "mask"), ("Gender", "gender"), ("Identity (name)", "identity")]
#: The answer buttons per task: (label stored, button text, key; its element id is "key-<key>").
ANSWERS = {
    "mask": [("with_mask", "With mask", "m"), ("without_mask", "No mask", "n")],
    "gender": [("female", "Female", "f"), ("male", "Male", "g"), (UNSURE, "Unsure", "u")],
}
CONSENT = (
    "I agree that the face crops I label, my answers, the time and the name I give (if any) are stored in "
    "this app's labeled dataset and may be published with it to retrain the models."
)
CONFIRM_DELETE = (
    "I understand that this deletes for good every label of this browser (the count above) and, if I typed a "
    "name, every label given under that name."
)
FOLDER_NONE = "(no folder)"
#: Label writes run this many at once (they are short, and the store serialises its own writes).
LABEL_CONCURRENCY = 8


@dataclass
class Session:
    """One labeler's queue: the faces, where they are in it, and their labels of this session (for undo)."""

    task: str = "mask"
    items: list[QueueItem] = field(default_factory=list)
    position: int = 0
    history: list[tuple[int, str]] = field(default_factory=list)
    skipped: int = 0

    @property
    def current(self) -> QueueItem | None:
        return self.items[self.position] if self.position < len(self.items) else None


class LabelingTab:
    """Handlers (also the API) and layout of the Quick labeling tab."""

    def __init__(self, services: Services) -> None:
        self.services = services
        self.answer_buttons: dict[str, str] = {}  # button elem_id -> its action: a label, "accept", "skip" or "undo"
        self.grid = GridMode(services)

    # ----------------------------------------------------------------------
    # Handlers.

    def label(
        self,
        crop: np.ndarray | None,
        task: str,
        label: str,
        labeler_name: str,
        labeler_id: str,
        consent: bool,
        session: Session | None = None,
    ) -> tuple[str, int]:
        """Store one label with its crop; returns the record id and how many labels this labeler has given.

        The UI passes its session, whose current face gives the prediction the form was pre-filled with.
        """
        require(crop, "There is no face crop to label.")
        item = session.current if session is not None and session.task == task else None
        with user_errors():
            record_id = self.services.labels.add(
                crop,
                task,
                (label or "").strip(),
                labeler_id=(labeler_id or "").strip(),
                consent=bool(consent),
                labeler_name=labeler_name,
                prediction=item.predictions.get(task) if item else None,
            )
        return record_id, self.services.labels.count(labeler_id.strip())

    def queue(
        self, uploads: list[str] | None, folder: str | None, task: str, progress: gr.Progress = gr.Progress()
    ) -> tuple:
        """Find every face of the uploaded photos (and of the chosen server folder); least confident first."""
        images = list(uploads or [])
        if folder and folder != FOLDER_NONE:
            chosen = require(self._folders().get(folder), f"The folder {folder!r} is gone; reload the page.")
            images += [str(p) for p in iter_image_files([chosen])]
        require(images, "Upload photos (or choose a folder), then build the queue.")
        if len(images) > MAX_QUEUE_IMAGES:
            gr.Warning(f"Only the first {MAX_QUEUE_IMAGES} of {len(images)} photos are queued.")
            images = images[:MAX_QUEUE_IMAGES]
        with user_errors():
            analyzer, gallery = self._analyzer(task)
            queue: LabelQueue = build_queue(progress.tqdm(images, desc="Finding faces"), analyzer, task, gallery=gallery)
        for error in queue.errors:
            gr.Warning(error)
        if not queue.items:
            gr.Warning("No face found in these photos.")
        return self._show(Session(task=task, items=queue.items))

    def act(
        self,
        session: Session,
        crop: np.ndarray | None,
        task: str,
        name: str,
        labeler_name: str,
        labeler_id: str,
        consent: bool,
        count: int,
        evt: gr.EventData,
    ) -> tuple:
        """Every key and button of the queue: answer, accept the suggestion, skip or undo."""
        action = self.answer_buttons.get(evt.target.elem_id) if evt.target is not None else None
        session = dataclasses.replace(session, history=list(session.history))
        if action == "undo":
            if not session.history:
                gr.Info("Nothing to undo.")
                return (*self._show(session), count)
            position, record_id = session.history.pop()
            with user_errors():
                self.services.labels.undo(record_id, labeler_id)
            session.position = position
            return (*self._show(session), self.services.labels.count(labeler_id))
        item = require(session.current, "No face to label: upload photos (or choose a folder) and build the queue.")
        if action == "skip":
            session.position += 1
            session.skipped += 1
            return (*self._show(session), count)
        if task != session.task:
            raise gr.Error(f"The queue was built for {session.task}: build it again for {task}.")
        label = self._suggestion(item, task, name) if action in (None, "accept") else action
        record_id, count = self.label(crop, task, label, labeler_name, labeler_id, consent, session)
        session.history.append((session.position, record_id))
        session.position += 1
        return (*self._show(session), count)

    def delete(self, labeler_id: str, confirmed: bool, session: Session) -> tuple[str, int, bool, Session]:
        """Delete this browser's labels once ``confirmed``.

        Returns a message saying how many went, this labeler's count (now 0), the
        confirmation box unticked, and the session with nothing left to undo.
        """
        if not confirmed:
            raise gr.Error("Tick the box to confirm: deleted labels cannot be brought back.")
        with user_errors():
            deleted = self.services.labels.delete_contributions(labeler_id=(labeler_id or "").strip() or None)
        session = dataclasses.replace(session, history=[])
        message = f"Deleted {deleted} label(s) given in this browser."
        return message, self.services.labels.count(labeler_id), False, session

    def start(self, stored_id: str) -> tuple[str, str, int]:
        """On page load: this browser's labeler id (made once, kept in the browser) and its count."""
        labeler_id = stored_id or new_labeler_id()
        return labeler_id, labeler_id, self.services.labels.count(labeler_id)

    def sync_line(self) -> str:
        """Where the labels are: local only, synced, or how many wait to sync."""
        return f"Labels: {self.services.labels.sync_status()}"

    def switch(self, task: str, session: Session) -> tuple:
        """Show the answers of ``task``; a queue sorted for another task has to be rebuilt."""
        rows = [gr.update(visible=task == t) for t in ("mask", "gender", "identity")]
        if session.items and session.task != task:
            gr.Info(f"The queue was sorted for {session.task}: build it again for {task}.")
            session = Session(task=task)
        return (*rows, *self._show(session))

    # ----------------------------------------------------------------------

    def _analyzer(self, task: str) -> tuple[Analyzer, Gallery | None]:
        """The analyzer whose answers pre-fill ``task``'s queue, and the gallery naming faces for identity."""
        if task == "identity" and self.services.identity is not None:
            return self.services.recognizer, self.services.gallery
        model = "gender" if task == "gender" else "mask"
        return self.services.analyzer(model, next(iter(self.services.models[model]))), None

    def _folders(self) -> dict[str, Path]:
        """Folders under the unlabelled-images root offered for queueing, by their relative name."""
        root = self.services.settings.unlabelled_dir
        if not root.is_dir():
            return {}
        return {".": root} | {str(p.relative_to(root)): p for p in sorted(root.iterdir()) if p.is_dir()}

    @staticmethod
    def _suggestion(item: QueueItem, task: str, name: str) -> str:
        """What Enter stores: the typed name for identity, else the model's answer."""
        if task == "identity":
            typed = (name or "").strip()
            guess = item.predictions.get("identity")
            return require(
                typed or (guess.label if guess and guess.label != UNKNOWN else ""), "Type the person's name."
            )
        return require(item.predictions.get(task), f"No {task} suggestion for this face: press an answer key.").label

    def _show(self, session: Session) -> tuple:
        """The session and what shows it: the crop, a line about it, the identity name box."""
        item = session.current
        if item is None:
            done = len(session.history)
            text = (
                f"**Queue done**: {done} labelled, {session.skipped} skipped. "
                "Add photos and build a new queue to go on."
                if session.items
                else "Upload photos (or choose a folder) and build the queue."
            )
            return session, None, text, ""
        guess = item.predictions.get(session.task)
        said = (
            f"the model says **{guess.label.replace('_', ' ')}** ({percent(guess.score)})" if guess else "no suggestion"
        )
        text = f"Face {session.position + 1} of {len(session.items)} from {Path(item.source).name}: {said}."
        name = guess.label if session.task == "identity" and guess and guess.label != UNKNOWN else ""
        return session, item.crop, text, name

    # ----------------------------------------------------------------------
    # Layout.

    def build(self, demo: gr.Blocks) -> None:
        """The tab inside ``demo``; binds the page-load event that gives the browser its labeler id."""
        with gr.Tab("Quick labeling", id="tab-labeling", elem_id="tab-labeling"):
            gr.Markdown(
                "Label faces to improve the models. Keys: **m** / **n** with / without mask, "
                "**f** / **g** / **u** female / male / unsure, **Enter** accepts the model's suggestion "
                "(or the typed name), **s** skips, **z** or **Backspace** undoes. Grid mode (below): a page of "
                "faces, click one or press its key to flip it, **Enter** accepts the page."
            )
            session = gr.State(Session())
            stored_id = gr.BrowserState("", storage_key="maskface-labeler-id")
            with gr.Row():
                labeler_name = gr.Textbox(label="Your name (optional)", max_length=200, elem_id="labeler-name")
                labeler_id = gr.Textbox(label="Labeler id", visible=False, elem_id="labeler-id")
                count = gr.Number(
                    label="Your labels so far", value=0, interactive=False, precision=0, elem_id="label-count"
                )
            consent = gr.Checkbox(label=CONSENT, elem_id="label-consent")
            with gr.Row():
                with gr.Column(scale=1):
                    task = gr.Radio(TASK_CHOICES, value="mask", label="What to label", elem_id="label-task")
                    uploads = gr.File(
                        label="Photos",
                        file_count="multiple",
                        file_types=["image"],
                        type="filepath",
                        elem_id="label-uploads",
                    )
                    folders = [FOLDER_NONE, *self._folders()]
                    folder = gr.Dropdown(
                        folders, value=FOLDER_NONE, label=f"Or a folder of {self.services.settings.unlabelled_dir}/"
                    )
                    build = gr.Button("Build the queue", variant="primary", elem_id="label-build")
                    gr.Examples(
                        [[[example("collage-two-faces.jpg"), example("astronaut.jpg")]]],
                        [uploads],
                        api_visibility="private",
                    )
                with gr.Column(scale=2) as single:
                    crop = gr.Image(
                        label="Face", type="numpy", format="png", interactive=False, height=320, elem_id="label-crop"
                    )
                    info = gr.Markdown(
                        "Upload photos (or choose a folder) and build the queue.", label="Queue", elem_id="label-info"
                    )
                    rows = {}
                    buttons: list[gr.Button] = []
                    for row_task, answers in ANSWERS.items():
                        with gr.Row(visible=row_task == "mask") as rows[row_task]:
                            for value, text, key in answers:
                                buttons.append(self._button(f"{text} [{key}]", value, f"key-{key}"))
                    with gr.Row(visible=False) as rows["identity"]:
                        name = gr.Textbox(label="Name (Enter saves)", max_length=200, elem_id="label-name", scale=3)
                    with gr.Row():
                        buttons.append(
                            self._button("Accept suggestion [Enter]", "accept", "key-enter", variant="primary")
                        )
                        buttons.append(self._button("Skip [s]", "skip", "key-s"))
                        buttons.append(self._button("Undo [z]", "undo", "key-z"))
            grid = self.grid.layout()
            sync = gr.Markdown(self.sync_line())
            with gr.Accordion("Delete my contributions", open=False):
                confirm = gr.Checkbox(label=CONFIRM_DELETE, elem_id="delete-confirm")
                delete = gr.Button("Delete my contributions", variant="stop", elem_id="delete-run")
                deleted = gr.Markdown(elem_id="delete-message")
            # The API endpoint `label`: the store call alone, on the same components.
            label_value = gr.Textbox(label="label", visible=False)
            record_id = gr.Textbox(label="record id", visible=False)
            api_button = gr.Button(visible=False)
        shown = [session, crop, info, name]
        api_button.click(
            self.label,
            [crop, task, label_value, labeler_name, labeler_id, consent],
            [record_id, count],
            api_name="label",
            concurrency_limit=LABEL_CONCURRENCY,
            concurrency_id="labels",
        )
        gr.on(
            [b.click for b in buttons] + [name.submit],
            self.act,
            [session, crop, task, name, labeler_name, labeler_id, consent, count],
            [*shown, count],
            trigger_mode="once",
            show_progress="hidden",
            api_visibility="private",
            concurrency_limit=LABEL_CONCURRENCY,
            concurrency_id="labels",
        ).then(self.sync_line, None, sync, show_progress="hidden", api_visibility="private")
        delete.click(
            self.delete,
            [labeler_id, confirm, session],
            [deleted, count, confirm, session],
            api_name="delete_contributions",
            concurrency_limit=LABEL_CONCURRENCY,
            concurrency_id="labels",
        ).then(self.sync_line, None, sync, show_progress="hidden", api_visibility="private")
        built = build.click(self.queue, [uploads, folder, task], shown, api_name="queue")
        self.grid.wire(grid, session, task, labeler_name, labeler_id, consent, count, single, built, LABEL_CONCURRENCY)
        task.change(self.switch, [task, session], [*rows.values(), *shown], api_visibility="private")
        demo.load(self.start, [stored_id], [stored_id, labeler_id, count], api_visibility="private")

    def _button(self, text: str, action: str, elem_id: str, variant: str = "secondary") -> gr.Button:
        button = gr.Button(text, variant=variant, elem_id=elem_id, size="sm")
        self.answer_buttons[elem_id] = action
        return button
