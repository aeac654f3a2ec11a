"""The app's upload inputs: ``gr.Image`` and ``gr.File`` whose uploads reach the handlers undecoded.

Gradio's ``gr.Image`` decodes an upload (or at least opens it) before the
handler runs, so a decompression bomb or a huge file would cost memory before
maskface's limits could refuse it, and ``gr.File`` refuses a file by its name
only after storing it. These are the same components on the page (Gradio
templates) whose value is the uploaded file's path: the handler decodes it
once (:func:`.uploads.read_image`). This module holds nothing else because
Gradio writes a typing stub (``inputs.pyi``, committed) of the module that
defines a component.
"""

from __future__ import annotations

import gradio as gr


class ImageInput(gr.Image):
    """``gr.Image`` whose value is the upload's path (or a webcam frame's ``data:`` URL), never decoded here."""

    is_template = True

    def preprocess(self, payload) -> str | None:
        if payload is None:
            return None
        return payload.path or payload.url


class PhotoFiles(gr.File):
    """``gr.File`` whose value is the list of uploaded paths, their contents unchecked (the handler decodes them).

    Gradio's own type check would refuse a file by its name only after it was
    stored, and leave it there; here every file reaches the handler, which
    refuses what is not an image and deletes it.
    """

    is_template = True

    def preprocess(self, payload) -> list[str] | str | None:
        if payload is None:
            return None
        files = [f.path for f in (payload if isinstance(payload, list) else getattr(payload, "root", [payload]))]
        return files if self.file_count != "single" else (files[0] if files else None)
