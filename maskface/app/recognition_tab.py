"""The Recognition tab: identify faces against a gallery; enrol and remove people.

Which gallery and what a visitor may do with it is :mod:`.access`'s: run
locally, the operator has the one shared gallery; on a Space, admins manage
the shared gallery, everyone may identify against it (the match or
``unknown``, never the other candidates), and each signed-in user has a
private gallery only they can use.

Identification stores nothing. Enrolment keeps, per person, the name and
face embeddings (see :mod:`maskface.gallery`), never the photos (their
uploads are deleted once read), and only with the consent box ticked.
Enrolling a name already enrolled adds the photos to that person only when
the visitor says it is the same person.
"""

from __future__ import annotations

from dataclasses import replace

import gradio as gr
import numpy as np

from ..analyzer import Analyzer
from ..enrolment import enroll
from ..face import Face, Prediction
from ..gallery import UNKNOWN, Gallery
from .access import GALLERY_CHOICES, MINE, SHARED, GalleryAccess, gallery_access, require_manager, visitor
from .common import UserError, as_warning, for_visitor, box, described, example, page_and_api, plain, require, user_errors
from .services import Services
from .inputs import ImageInput, PhotoFiles
from .uploads import image_source

CONSENT = (
    "The person in these photos agreed to be enrolled. Only their name and face embeddings are kept "
    "(no photo), until they are removed below."
)
SAME_PERSON = "This name is already enrolled and these photos show that same person: add them"
PEOPLE_HEADERS = ["name", "id", "embeddings"]
#: Photos one enrolment may take.
MAX_ENROL_PHOTOS = 10


class RecognitionTab:
    """Handlers (also the API) and layout of the Recognition tab."""

    def __init__(self, services: Services) -> None:
        self.services = services

    def _problem(self) -> str | None:
        """Why recognition is off (no identity model, a foreign shared gallery), or None."""
        try:
            self.services.gallery
        except (RuntimeError, ValueError) as err:
            return str(err)
        return None

    def _access(self, which: str, profile: gr.OAuthProfile | None) -> GalleryAccess:
        return gallery_access(self.services.settings, visitor(self.services.settings, profile), which or SHARED)

    def _ready(self, access: GalleryAccess, create: bool = False) -> tuple[Analyzer, Gallery]:
        """The analyzer and the gallery ``access`` names; a :class:`UserError` when recognition is off."""
        try:
            return self.services.recognizer, self.services.gallery_at(access.path, create=create)
        except RuntimeError as err:
            raise UserError(str(err)) from None

    def identify(
        self, image: str | None, which: str, profile: gr.OAuthProfile | None, request: gr.Request
    ) -> tuple[np.ndarray, list[list]]:
        """Each face named after the best-matching enrolled person, or "unknown" below the threshold.

        Against a gallery the visitor may not list, each face gets only its match (or
        ``unknown``, without a similarity), never the other candidates.
        """
        with user_errors("identify"):
            access = self._access(which, profile)
            require(image, "Add a photo first: upload one, take a webcam snapshot, or click an example.")
            recognizer, gallery = self._ready(access)
            with self.services.temp.refusing(image):
                result = recognizer.analyze(image_source(image), gallery=gallery)
            faces = result.faces if access.manage else [_match_only(face) for face in result]
        if not faces:
            gr.Info("No face found in this image.")
        rows = [
            [
                number,
                face["identity"].label,
                round(face["identity"].score, 3) if face["identity"].score else None,
                round(face["identity"].threshold, 3),
                described(face["mask"]),
                ", ".join(f"{name} {score:.2f}" for name, score in face["identity"].candidates),
                box(face),
            ]
            for number, face in enumerate(faces, start=1)
        ]
        return np.asarray(replace(result, faces=faces).plot("identity")), rows

    def people(self, which: str, profile: gr.OAuthProfile | None) -> list[list]:
        """The people enrolled in the chosen gallery, in enrolment order (for those who may list it)."""
        with user_errors("people"):
            access = self._access(which, profile)
            require_manager(access, "list")
            _, gallery = self._ready(access)
            return [[p["name"], p["id"], p["embeddings"]] for p in gallery.people()]

    def enroll(
        self,
        name: str,
        photos: list[str] | None,
        consent: bool,
        same_person: bool,
        which: str,
        profile: gr.OAuthProfile | None,
        request: gr.Request,
    ) -> tuple[str, list[list], bool]:
        """Enrol ``name`` from a few photos showing only them; returns a message, the people and the box unticked."""
        try:
            with user_errors("enroll"):
                access = self._access(which, profile)
                require_manager(access, "enrol people into")
                if not consent:
                    raise UserError("Tick the consent box: people are enrolled only with their agreement.")
                name = require((name or "").strip(), "Give the person's name.")
                require(photos, "Add one or more photos showing only this person.")
                if len(photos) > MAX_ENROL_PHOTOS:
                    raise UserError(f"Enrol from at most {MAX_ENROL_PHOTOS} photos at once.")
                limit = None if which == SHARED else self.services.settings.gallery_max_people
                recognizer, gallery = self._ready(access, create=True)
                person = enroll(
                    recognizer, gallery, name, photos, add_to_existing=bool(same_person), max_people=limit
                )
        finally:
            for photo in photos or []:  # read once; the photos themselves are never kept
                self.services.temp.discard(photo)
        message = f"Enrolled {name} from {len(photos)} photo(s) (id {person})."
        return message, self.people(which, profile), False

    def remove(self, name_or_id: str, which: str, profile: gr.OAuthProfile | None) -> tuple[str, list[list]]:
        """Remove a person (by id, or by name) with all their embeddings."""
        with user_errors("remove"):
            access = self._access(which, profile)
            require_manager(access, "remove people from")
            who = require((name_or_id or "").strip(), "Give the name or id of the person to remove.")
            removed = self._ready(access, create=True)[1].remove(who)
        return f"Removed {who} ({removed} embeddings deleted).", self.people(which, profile)

    def start(self, profile: gr.OAuthProfile | None) -> tuple[dict, list[list], str]:
        """On page load: the gallery to show first (a signed-in user's own), its people if listable, and a note."""
        settings = self.services.settings
        who = visitor(settings, profile)
        which = MINE if who.signed_in and not who.admin else SHARED
        access = gallery_access(settings, who, which)
        if not access.manage:
            note = "Sign in with Hugging Face to enrol people into a gallery of your own."
            return gr.update(value=which), [], note
        note = (
            "The shared gallery (you manage it)."
            if which == SHARED
            else f"Your own gallery, {who.username}: only you can see or use it."
        )
        return gr.update(value=which), self.shown(which, profile), note

    def shown(self, which: str, profile: gr.OAuthProfile | None) -> list[list]:
        """The people table when the gallery choice changes (empty for a gallery the visitor may not list)."""
        try:
            return self.people(which, profile)
        except gr.Error:
            return []

    @staticmethod
    def picked(evt: gr.SelectData) -> str:
        """The id of the person whose row was clicked, for the remove box."""
        return str(evt.row_value[1]) if evt.row_value else ""

    def build(self, demo: gr.Blocks) -> None:
        """The tab inside ``demo``; its people list is read when the page loads, never frozen into the page."""
        services, settings = self.services, self.services.settings
        with gr.Tab("Recognition", id="tab-recognition", elem_id="tab-recognition"):
            problem = self._problem()
            if problem:
                gr.Markdown(f"**Recognition is off** on this server: {for_visitor(problem)}.")
            limits = None if problem else services.gallery.thresholds
            threshold = f"{limits['bare']:.2f} for bare faces, {limits['masked']:.2f} for masked ones" if limits else "n/a"
            gr.Markdown(
                "Faces are compared with the enrolled people; a face is named when its similarity (cosine, "
                f"at most 1) reaches the gallery's threshold ({threshold}), otherwise it is **unknown**. "
                "Nothing of the photos you identify is stored."
            )
            which = gr.Radio(
                GALLERY_CHOICES, value=SHARED, label="Gallery", visible=settings.on_space, elem_id="gallery-choice"
            )
            note = gr.Markdown(elem_id="gallery-note")
            with gr.Row():
                with gr.Column():
                    image = ImageInput(
                        label="Photo",
                        type="filepath",
                        sources=["upload", "webcam", "clipboard"],
                        elem_id="identify-input",
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
            page_and_api(
                self.services.share.listen, button.click, self.identify, [image, which], [output, table], api_name="identify"
            )
            examples = gr.Examples(
                [[example("grace_hopper-masked-simulated.jpg")], [example("collage-two-faces.jpg")]],
                [image],
                cache_examples=False,
                api_visibility="private",
            )
            self.services.share.listen(
                examples.load_input_event.then,
                as_warning(self.identify, 2),
                [image, which],
                [output, table],
                api_visibility="private",
            )
            with gr.Row():
                with gr.Column():
                    gr.Markdown("### Enroll a person")
                    name = gr.Textbox(label="Name", max_length=200)
                    photos = PhotoFiles(
                        label=f"Photos (each showing only this person; at most {MAX_ENROL_PHOTOS})",
                        file_count="multiple",
                        file_types=["image"],
                        type="filepath",
                        elem_id="enroll-photos",
                    )
                    consent = gr.Checkbox(label=CONSENT, elem_id="enroll-consent")
                    same_person = gr.Checkbox(label=SAME_PERSON, elem_id="enroll-same-person")
                    enroll = gr.Button("Enroll", variant="primary", elem_id="enroll-run")
                    message = gr.Markdown(label="Message", elem_id="enroll-message")
                    gr.Examples(
                        [["Grace Hopper", [example("grace_hopper.jpg")]]], [name, photos], api_visibility="private"
                    )
                with gr.Column():
                    gr.Markdown("### Enrolled people")
                    people = gr.Dataframe(
                        headers=PEOPLE_HEADERS, interactive=False, label="Enrolled people", elem_id="people"
                    )
                    refresh = gr.Button("Refresh the list", size="sm")
                    who = gr.Textbox(label="Name or id to remove")
                    remove = gr.Button("Remove", variant="stop")
            page_and_api(
                self.services.share.listen,
                enroll.click,
                self.enroll,
                [name, photos, consent, same_person, which],
                [message, people, same_person],
                api_name="enroll",
            )
            page_and_api(plain, remove.click, self.remove, [who, which], [message, people], api_name="remove")
            page_and_api(plain, refresh.click, self.people, [which], [people], api_name="people")
            which.change(self.shown, [which], people, api_visibility="private")
            people.select(self.picked, None, who, api_visibility="private")
        demo.load(self.start, None, [which, people, note], api_visibility="private")


def _match_only(face: Face) -> Face:
    """``face`` with its identity cut to what a visitor may see of a gallery they cannot list.

    The match's name and similarity, or ``unknown`` without a similarity; never the other candidates.
    """
    found = face["identity"]
    score = found.score if found.label != UNKNOWN else 0.0
    shown = Prediction(found.label, score, threshold=found.threshold)
    return replace(face, results={**face.results, "identity": shown})
