"""The Quick labeling tab: a queue of face crops, least confident first, one key per answer.

The queue (:func:`maskface.labels.build_queue`) is built and held by the
server, per labeler (:class:`.queues.LabelQueues`); a label is given to a
queue item, by its id, and the crop stored is the server's own crop of that
item, written only when its labeler answers, with the consent box ticked, into
the label store (:class:`maskface.labels.LabelStore`, ``datasets``'
imagefolder layout). Keys (bound in ``keys.js``): ``m`` / ``n`` with / without
mask, ``f`` / ``g`` / ``u`` female / male / unsure, a name and Enter for
identity, Enter accepts the model's suggestion, ``s`` skips, ``z`` or
Backspace undoes the last label.

Who labels: on a Space, the signed-in Hugging Face user (the labeler id is a
hash of the username, :func:`.access.user_key`, the same on every device);
visitors who are not signed in label only where the operator allows it
(``MASKFACE_ANONYMOUS_LABELING``), under a random id kept in their browser
(``gr.BrowserState``), as does the operator of a local run. Each labeler
gives at most ``MASKFACE_LABELS_PER_MINUTE`` labels a minute.

Every action of the session is one event (:meth:`LabelingTab.act`) that is
not re-triggered while it runs, so fast typing never labels a face twice.
The API endpoint ``label`` stores one answer for a queue item.

"Delete my contributions" removes every label of this labeler (all given
under the signed-in account, or from this browser), once the labeler ticks
the box that confirms it: the API endpoint ``delete_contributions``, over
:meth:`maskface.labels.LabelStore.delete_contributions`.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from pathlib import Path

import gradio as gr

from ..analyzer import Analyzer
from ..draw import face_in_photo
from ..gallery import UNKNOWN, Gallery
from ..image import iter_image_files
from ..labels import LABELER_ID, UNSURE, QueueItem, build_queue, new_labeler_id
from .access import Refused, visitor
from .common import UserError, as_warning, example, for_visitor, page_and_api, percent, plain, require, user_errors
from .inputs import PhotoFiles
from .services import Services

#: At most this many photos per queue build.
MAX_QUEUE_IMAGES = 60
TASK_CHOICES = [("Mask", "mask"), ("Gender", "gender"), ("Identity (name)", "identity")]
CONFIDENCE, DISAGREEMENT = "confidence", "disagreement"
ORDER_CHOICES = [("Least confident first", CONFIDENCE), ("Where labelers disagree first", DISAGREEMENT)]
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
    "I understand that this deletes for good every label counted above (the labeler named below), here and, at "
    "the next sync, in the published dataset."
)
FOLDER_NONE = "(no folder)"
#: Label writes run this many at once (they are short, and the store serialises its own writes).
LABEL_CONCURRENCY = 8


@dataclass
class Session:
    """One labeler's place in their queue: its item ids, where they are, their labels of this session (for undo)."""

    task: str = "mask"
    items: list[str] = field(default_factory=list)
    position: int = 0
    history: list[tuple[int, str]] = field(default_factory=list)
    skipped: int = 0

    @property
    def current(self) -> str | None:
        return self.items[self.position] if self.position < len(self.items) else None


@dataclass(frozen=True)
class Labeler:
    """Who labels: the id their labels are stored under, and how the page names it."""

    id: str
    described: str


class LabelingTab:
    """Handlers (also the API) and layout of the Quick labeling tab."""

    def __init__(self, services: Services) -> None:
        self.services = services
        self.answer_buttons: dict[str, str] = {}  # button elem_id -> its action: a label, "accept", "skip" or "undo"

    # ----------------------------------------------------------------------
    # Handlers.

    def labeler(self, profile: gr.OAuthProfile | None, browser_id: str) -> Labeler:
        """The labeler of a request (see the module docstring); :class:`.access.Refused` when they may not label."""
        settings = self.services.settings
        who = visitor(settings, profile)
        if who.signed_in:
            return Labeler(f"hf-{who.key}", f"your Hugging Face account **{who.username}**")
        if settings.on_space and not settings.anonymous_labeling:
            raise Refused("Sign in with Hugging Face to label: this Space takes labels from signed-in visitors only.")
        browser_id = (browser_id or "").strip()
        if not LABELER_ID.fullmatch(browser_id):
            raise UserError("This browser has no labeler id yet: reload the page.")
        return Labeler(browser_id, "this browser")

    def label(
        self,
        item_id: str,
        task: str,
        label: str,
        labeler_name: str,
        labeler_id: str,
        consent: bool,
        profile: gr.OAuthProfile | None,
        request: gr.Request,
    ) -> tuple[str, int, str]:
        """Store one answer for a face of this labeler's queue, by its item id.

        Returns the record id, this labeler's count and the id of the queue's next item ("" after the last).
        """
        with user_errors("label"):
            labeler = self.labeler(profile, labeler_id)
            item_id = (item_id or "").strip()
            item = self.services.queues.item(labeler.id, item_id, task)
            record_id = self._store(labeler, item, task, (label or "").strip(), labeler_name, consent)
        return record_id, self.services.labels.count(labeler.id), self.services.queues.after(labeler.id, item_id)

    def queue(
        self,
        uploads: list[str] | None,
        folder: str | None,
        task: str,
        labeler_id: str,
        profile: gr.OAuthProfile | None,
        request: gr.Request,
        order: str = CONFIDENCE,
        progress: gr.Progress = gr.Progress(),
    ) -> tuple:
        """Find every face of the uploaded photos (and of the chosen server folder) to label.

        Left out: faces too small to judge, faces this labeler already labelled and,
        of the server folder (the faces everyone is offered), those that
        ``MASKFACE_LABELERS_PER_FACE`` different labelers have labelled.
        ``order``: least confident first, or first the faces whose labelers disagree.
        """
        with user_errors("queue"):
            labeler = self.labeler(profile, labeler_id)
            images = list(uploads or [])
            shared: set[str] = set()
            if folder and folder != FOLDER_NONE:
                chosen = require(self._folders().get(folder), f"The folder {folder!r} is gone; reload the page.")
                listed = [str(p) for p in iter_image_files([chosen])]
                shared = set(listed)
                images += listed
            require(images, "Upload photos (or choose a folder), then build the queue.")
            if len(images) > MAX_QUEUE_IMAGES:
                gr.Warning(f"Only the first {MAX_QUEUE_IMAGES} of {len(images)} photos are queued.")
                images = images[:MAX_QUEUE_IMAGES]
            self.services.queues.release(labeler.id)  # the old queue's memory goes before the new one is built
            analyzer, gallery = self._analyzer(task)
            settings = self.services.settings
            by_face = self.services.labels.labelers_by_face(task)

            def done(digest: str, source: str) -> bool:
                labels = by_face.get(digest, {})
                return labeler.id in labels or (source in shared and len(labels) >= settings.labelers_per_face)

            queue = build_queue(
                progress.tqdm(images, desc="Finding faces"),
                analyzer,
                task,
                gallery=gallery,
                max_faces=settings.queue_max_faces,
                min_face=settings.label_min_face,
                skip=done,
                first=(lambda d: len(set(by_face.get(d, {}).values())) > 1) if order == DISAGREEMENT else None,
            )
        for error in queue.errors:
            gr.Warning(for_visitor(error))
        if not queue.complete:
            gr.Warning(
                f"The queue stops at {self.services.settings.queue_max_faces} faces, the limit per queue: "
                "label these, then queue the other photos."
            )
        if queue.left_out.get("small"):
            gr.Info(f"{queue.left_out['small']} face(s) under {settings.label_min_face} pixels left out: too small to judge.")
        if queue.left_out.get("done"):
            gr.Info(f"{queue.left_out['done']} face(s) left out: already labelled by you, or by enough labelers.")
        if not queue.items and not queue.left_out:
            gr.Warning("No face found in these photos.")
        ids = self.services.queues.put(labeler.id, queue, request.session_hash if request else "")
        return self._show(Session(task=task, items=ids), labeler.id)

    def act(
        self,
        session: Session,
        task: str,
        name: str,
        labeler_name: str,
        labeler_id: str,
        consent: bool,
        count: int,
        profile: gr.OAuthProfile | None,
        evt: gr.EventData,
    ) -> tuple:
        """Every key and button of the queue: answer, accept the suggestion, skip or undo."""
        action = self.answer_buttons.get(evt.target.elem_id) if evt.target is not None else None
        session = dataclasses.replace(session, history=list(session.history))
        with user_errors("label"):
            labeler = self.labeler(profile, labeler_id)
            if action == "undo":
                if not session.history:
                    gr.Info("Nothing to undo.")
                    return (*self._show(session, labeler.id), count)
                position, record_id = session.history.pop()
                self.services.labels.undo(record_id, labeler.id)
                session.position = position
                return (*self._show(session, labeler.id), self.services.labels.count(labeler.id))
            item_id = require(
                session.current, "No face to label: upload photos (or choose a folder) and build the queue."
            )
            if action == "skip":
                session.position += 1
                session.skipped += 1
                return (*self._show(session, labeler.id), count)
            if task != session.task:
                raise UserError(f"The queue was built for {session.task}: build it again for {task}.")
            item = self.services.queues.item(labeler.id, item_id, task)
            answer = self._suggestion(item, task, name) if action in (None, "accept") else action
            record_id = self._store(labeler, item, task, answer, labeler_name, consent)
        session.history.append((session.position, record_id))
        session.position += 1
        return (*self._show(session, labeler.id), self.services.labels.count(labeler.id))

    def delete(
        self, labeler_id: str, confirmed: bool, session: Session, profile: gr.OAuthProfile | None
    ) -> tuple[str, int, bool, Session]:
        """Delete every label of this labeler once ``confirmed``.

        Returns a message saying how many went, this labeler's count (now 0), the
        confirmation box unticked, and the session with nothing left to undo.
        """
        with user_errors("delete_contributions"):
            labeler = self.labeler(profile, labeler_id)
            if not confirmed:
                raise UserError("Tick the box to confirm: deleted labels cannot be brought back.")
            deleted = self.services.labels.delete_contributions(labeler_id=labeler.id)
        session = dataclasses.replace(session, history=[])
        message = f"Deleted {deleted} label(s) given under {labeler.described}."
        return message, self.services.labels.count(labeler.id), False, session

    def start(self, stored_id: str, profile: gr.OAuthProfile | None) -> tuple[str, str, int, str]:
        """On page load: this browser's id (made once, kept in the browser), the labeler's count and who they are."""
        browser_id = stored_id if LABELER_ID.fullmatch(stored_id or "") else new_labeler_id()
        try:
            labeler = self.labeler(profile, browser_id)
        except Refused as refusal:
            return browser_id, browser_id, 0, str(refusal)
        whose = f"Your labels are counted and deleted under {labeler.described}."
        return browser_id, browser_id, self.services.labels.count(labeler.id), whose

    def sync_line(self) -> str:
        """Where the labels are: local only, synced, or how many wait to sync."""
        return f"Labels: {self.services.labels.sync_status()}"

    def switch(self, task: str, session: Session, labeler_id: str, profile: gr.OAuthProfile | None) -> tuple:
        """Show the answers of ``task``; a queue sorted for another task has to be rebuilt."""
        rows = [gr.update(visible=task == t) for t in ("mask", "gender", "identity")]
        if session.items and session.task != task:
            gr.Info(f"The queue was sorted for {session.task}: build it again for {task}.")
            session = Session(task=task)
        try:
            key = self.labeler(profile, labeler_id).id
        except ValueError:
            key = ""
        return (*rows, *self._show(session, key))

    # ----------------------------------------------------------------------

    def _store(self, labeler: Labeler, item: QueueItem, task: str, answer: str, labeler_name: str, consent: bool) -> str:
        """Store ``answer`` for ``item`` (its server-side crop), within the labeler's rate limit."""
        rate = self.services.label_rate
        wait = rate.wait(labeler.id)
        if wait > 0:
            raise UserError(
                f"You gave {rate.per_minute} labels in the last minute, the limit per labeler: "
                f"wait {math.ceil(wait)} s."
            )
        record_id = self.services.labels.add(
            item.crop,
            task,
            answer,
            labeler_id=labeler.id,
            consent=bool(consent),
            labeler_name=labeler_name,
            prediction=item.predictions.get(task),
        )
        rate.record(labeler.id)
        return record_id

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

    def _show(self, session: Session, labeler_id: str) -> tuple:
        """The session and what shows it: the crop, a line about it, the identity name box, the item id."""
        item_id = session.current
        item = None
        if item_id is not None:
            try:
                item = self.services.queues.item(labeler_id, item_id, session.task)
            except ValueError:
                session = Session(task=session.task)
                return session, None, "Your queue expired: build it again.", "", ""
        if item is None:
            done = len(session.history)
            text = (
                f"**Queue done**: {done} labelled, {session.skipped} skipped. "
                "Add photos and build a new queue to go on."
                if session.items
                else "Upload photos (or choose a folder) and build the queue."
            )
            return session, None, text, "", ""
        guess = item.predictions.get(session.task)
        said = (
            f"the model says **{guess.label.replace('_', ' ')}** ({percent(guess.score)})" if guess else "no suggestion"
        )
        text = f"Face {session.position + 1} of {len(session.items)} from {Path(item.source).name}: {said}."
        name = guess.label if session.task == "identity" and guess and guess.label != UNKNOWN else ""
        return session, face_in_photo(item.crop, item.context, [v * item.context_scale for v in item.box]), text, name, item_id

    # ----------------------------------------------------------------------
    # Layout.

    def browser_state(self) -> gr.BrowserState:
        """The labeler id kept in the browser; made at the page's top level, outside the tabs.

        A component in a tab that is not shown is not mounted when the page loads,
        and a ``gr.BrowserState`` saves a value into the browser only while
        mounted: inside this tab, the id the page-load event gives was never saved
        and every reload made a new one.
        """
        self._stored_id = gr.BrowserState(
            "", storage_key="maskface-labeler-id", secret=self.services.browser_secret
        )
        return self._stored_id

    def build(self, demo: gr.Blocks) -> None:
        """The tab inside ``demo``; binds the page-load event that gives the browser its labeler id.

        :meth:`browser_state` must have been called first, at the page's top level.
        """
        services, share = self.services, self.services.share
        with gr.Tab("Quick labeling", id="tab-labeling", elem_id="tab-labeling"):
            gr.Markdown(
                "Label faces to improve the models. Keys: **m** / **n** with / without mask, "
                "**f** / **g** / **u** female / male / unsure, **Enter** accepts the model's suggestion "
                "(or the typed name), **s** skips, **z** or **Backspace** undoes."
            )
            session = gr.State(Session())
            stored_id = self._stored_id
            whose = gr.Markdown(elem_id="labeler-whose")
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
                    order = gr.Radio(ORDER_CHOICES, value=CONFIDENCE, label="Order", elem_id="label-order")
                    uploads = PhotoFiles(
                        label="Photos",
                        file_count="multiple",
                        file_types=["image"],
                        type="filepath",
                        elem_id="label-uploads",
                    )
                    folders = [FOLDER_NONE, *self._folders()]
                    folder = gr.Dropdown(
                        folders, value=FOLDER_NONE, label=f"Or a folder of {services.settings.unlabelled_dir}/"
                    )
                    build = gr.Button("Build the queue", variant="primary", elem_id="label-build")
                    gr.Examples(
                        [[[example("collage-two-faces.jpg"), example("astronaut.jpg")]]],
                        [uploads],
                        api_visibility="private",
                    )
                with gr.Column(scale=2):
                    crop = gr.Image(
                        label="Face, and where it is in its photo",
                        type="numpy",
                        format="png",
                        interactive=False,
                        height=320,
                        elem_id="label-crop",
                    )
                    info = gr.Markdown(
                        "Upload photos (or choose a folder) and build the queue.", label="Queue", elem_id="label-info"
                    )
                    item_id = gr.Textbox(label="queue item", visible=False, elem_id="label-item")
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
            sync = gr.Markdown(self.sync_line())
            with gr.Accordion("Delete my contributions", open=False):
                confirm = gr.Checkbox(label=CONFIRM_DELETE, elem_id="delete-confirm")
                delete = gr.Button("Delete my contributions", variant="stop", elem_id="delete-run")
                deleted = gr.Markdown(elem_id="delete-message")
            # The API endpoint `label`: one answer for a queue item, on the same components.
            label_value = gr.Textbox(label="label", visible=False)
            record_id = gr.Textbox(label="record id", visible=False)
            api_button = gr.Button(visible=False)
            shown = [session, crop, info, name, item_id]
            share.listen(
                api_button.click,
                self.label,
                [item_id, task, label_value, labeler_name, labeler_id, consent],
                [record_id, count, item_id],
                api_name="label",
                concurrency_limit=LABEL_CONCURRENCY,
                concurrency_id="labels",
            )
            gr.on(
                [b.click for b in buttons] + [name.submit],
                as_warning(self.act, len(shown) + 1),
                [session, task, name, labeler_name, labeler_id, consent, count],
                [*shown, count],
                trigger_mode="once",
                show_progress="hidden",
                api_visibility="private",
                concurrency_limit=LABEL_CONCURRENCY,
                concurrency_id="labels",
            ).then(self.sync_line, None, sync, show_progress="hidden", api_visibility="private")
            page_and_api(
                plain,
                delete.click,
                self.delete,
                [labeler_id, confirm, session],
                [deleted, count, confirm, session],
                api_name="delete_contributions",
                concurrency_limit=LABEL_CONCURRENCY,
                concurrency_id="labels",
            ).then(self.sync_line, None, sync, show_progress="hidden", api_visibility="private")
            page_and_api(
                share.listen, build.click, self.queue, [uploads, folder, task, labeler_id, order], shown, api_name="queue"
            )
            task.change(self.switch, [task, session, labeler_id], [*rows.values(), *shown], api_visibility="private")
        demo.load(self.start, [stored_id], [stored_id, labeler_id, count, whose], api_visibility="private")

    def _button(self, text: str, action: str, elem_id: str, variant: str = "secondary") -> gr.Button:
        button = gr.Button(text, variant=variant, elem_id=elem_id, size="sm")
        self.answer_buttons[elem_id] = action
        return button
