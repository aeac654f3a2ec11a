"""The Recognition tab: identify faces against the gallery; enrol and remove people.

Identification stores nothing. Enrolment keeps, per person, the name and
face embeddings (see :mod:`maskface.gallery`), never the photos, and only
with the consent box ticked.
"""

from __future__ import annotations

import gradio as gr
import numpy as np

from ..analyzer import Analyzer
from ..enrolment import enroll
from ..gallery import Gallery
from .common import box, described, example, require, user_errors
from .services import Services

CONSENT = (
    "The person in these photos agreed to be enrolled. Only their name and face embeddings are kept "
    "(no photo), until they are removed below."
)
PEOPLE_HEADERS = ["name", "id", "embeddings"]


class RecognitionTab:
    """Handlers (also the API) and layout of the Recognition tab."""

    def __init__(self, services: Services) -> None:
        self.services = services

    def _status(self) -> tuple[tuple[Analyzer, Gallery] | None, str | None]:
        """The analyzer and the gallery, or None and why recognition is off (no identity model, a foreign gallery)."""
        try:
            return (self.services.recognizer, self.services.gallery), None
        except (RuntimeError, ValueError) as err:
            return None, str(err)

    def _ready(self) -> tuple[Analyzer, Gallery]:
        ready, problem = self._status()
        if ready is None:
            raise gr.Error(problem)
        return ready

    def identify(self, image: np.ndarray | None) -> tuple[np.ndarray, list[list]]:
        """Each face named after the best-matching enrolled person, or "unknown" below the threshold."""
        require(image, "Add a photo first: upload one, take a webcam snapshot, or click an example.")
        recognizer, gallery = self._ready()
        with user_errors():
            result = recognizer.analyze(image, gallery=gallery)
        if not result:
            gr.Info("No face found in this image.")
        rows = [
            [
                number,
                face["identity"].label,
                round(face["identity"].score, 3),
                round(face["identity"].threshold, 3),
                described(face["mask"]),
                ", ".join(f"{name} {score:.2f}" for name, score in face["identity"].candidates),
                box(face),
            ]
            for number, face in enumerate(result, start=1)
        ]
        return np.asarray(result.plot("identity")), rows

    def people(self) -> list[list]:
        """The enrolled people, in enrolment order."""
        ready, _ = self._status()
        return [[p["name"], p["id"], p["embeddings"]] for p in ready[1].people()] if ready else []

    def enroll(self, name: str, photos: list[str] | None, consent: bool) -> tuple[str, list[list]]:
        """Enrol ``name`` from a few photos showing only them; returns a message and the people."""
        if not consent:
            raise gr.Error("Tick the consent box: people are enrolled only with their agreement.")
        require((name or "").strip(), "Give the person's name.")
        require(photos, "Add one or more photos showing only this person.")
        recognizer, gallery = self._ready()
        with user_errors():
            person = enroll(recognizer, gallery, name.strip(), photos)
        return f"Enrolled {name.strip()} from {len(photos)} photo(s) (id {person}).", self.people()

    def remove(self, name_or_id: str) -> tuple[str, list[list]]:
        """Remove a person (by id, or by name) with all their embeddings."""
        require((name_or_id or "").strip(), "Give the name or id of the person to remove.")
        with user_errors():
            removed = self._ready()[1].remove(name_or_id.strip())
        return f"Removed {name_or_id.strip()} ({removed} embeddings deleted).", self.people()

    @staticmethod
    def picked(evt: gr.SelectData) -> str:
        """The id of the person whose row was clicked, for the remove box."""
        return str(evt.row_value[1]) if evt.row_value else ""

    def build(self) -> gr.Dataframe:
        """The tab inside the current ``gr.Blocks``; returns the people table (refreshed on page load)."""
        with gr.Tab("Recognition", id="tab-recognition", elem_id="tab-recognition"):
            ready, problem = self._status()
            if problem:
                gr.Markdown(f"**Recognition is off**: {problem}. See `MASKFACE_IDENTITY_MODEL` in the README.")
            limits = ready[1].thresholds if ready else None
            threshold = f"{limits['bare']:.2f} for bare faces, {limits['masked']:.2f} for masked ones" if limits else "n/a"
            gr.Markdown(
                "Faces are compared with the enrolled people; a face is named when its similarity (cosine, "
                f"at most 1) reaches the gallery's threshold ({threshold}), otherwise it is **unknown**. "
                "Nothing of the photos you identify is stored."
            )
            with gr.Row():
                with gr.Column():
                    image = gr.Image(
                        label="Photo", type="numpy", sources=["upload", "webcam", "clipboard"], elem_id="identify-input"
                    )
                    button = gr.Button("Identify", variant="primary", elem_id="identify-run")
                output = gr.Image(
                    label="Faces", type="numpy", interactive=False, format="jpeg", elem_id="identify-output"
                )
            table = gr.Dataframe(
                headers=["face", "name", "similarity", "threshold", "mask", "candidates", "box (x, y, w, h)"],
                interactive=False,
                label="Faces found",
                elem_id="identify-table",
            )
            button.click(self.identify, [image], [output, table], api_name="identify")
            gr.Examples(
                [[example("grace_hopper-masked-simulated.jpg")], [example("collage-two-faces.jpg")]],
                [image],
                [output, table],
                fn=self.identify,
                run_on_click=True,
                cache_examples=False,
                api_visibility="private",
            )
            with gr.Row():
                with gr.Column():
                    gr.Markdown("### Enroll a person")
                    name = gr.Textbox(label="Name", max_length=200)
                    photos = gr.File(
                        label="Photos (each showing only this person)",
                        file_count="multiple",
                        file_types=["image"],
                        type="filepath",
                        elem_id="enroll-photos",
                    )
                    consent = gr.Checkbox(label=CONSENT, elem_id="enroll-consent")
                    enroll = gr.Button("Enroll", variant="primary", elem_id="enroll-run")
                    message = gr.Markdown(label="Message")
                    gr.Examples(
                        [["Grace Hopper", [example("grace_hopper.jpg")]]], [name, photos], api_visibility="private"
                    )
                with gr.Column():
                    gr.Markdown("### Enrolled people")
                    people = gr.Dataframe(
                        headers=PEOPLE_HEADERS,
                        value=self.people(),
                        interactive=False,
                        label="Enrolled people",
                        elem_id="people",
                    )
                    refresh = gr.Button("Refresh the list", size="sm")
                    who = gr.Textbox(label="Name or id to remove")
                    remove = gr.Button("Remove", variant="stop")
            enroll.click(self.enroll, [name, photos, consent], [message, people], api_name="enroll")
            remove.click(self.remove, [who], [message, people], api_name="remove")
            refresh.click(self.people, None, people, api_name="people")
            people.select(self.picked, None, who, api_visibility="private")
        return people
