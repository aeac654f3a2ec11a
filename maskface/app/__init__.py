"""The Gradio app: thin tabs over :class:`maskface.Analyzer`; no model logic here.

The inference tabs store nothing: images live in memory for one request.
"""

from __future__ import annotations

import functools

import gradio as gr
import numpy as np

from ..analyzer import Analyzer
from ..draw import annotate
from ..image import ImageError, load_image
from ..store import ModelNotFoundError

MASK_MODELS = {"MobileNetV2 (transfer learning)": "mask-mobilenetv2", "CNN from scratch": "mask-cnn"}


@functools.cache
def analyzer_for(mask_model: str) -> Analyzer:
    """One analyzer per model choice, loaded on first use and kept for the process."""
    return Analyzer(models={"mask": mask_model})


def analyze_mask(image: np.ndarray | None, choice: str) -> tuple[np.ndarray, list[list]]:
    """Mask tab: the annotated image and one table row per face."""
    try:
        pixels = load_image(image)
        faces = analyzer_for(MASK_MODELS[choice]).analyze(pixels)
    except (ImageError, ModelNotFoundError) as err:
        raise gr.Error(str(err)) from err
    if not faces:
        gr.Info("No face found in this image.")
    rows = [
        [i + 1, face["mask"].label, round(face["mask"].score, 3), round(face.score, 3), [round(v) for v in face.box]]
        for i, face in enumerate(faces)
    ]
    return np.asarray(annotate(pixels, faces, "mask")), rows


def build_app() -> gr.Blocks:
    """The Blocks app served by ``app.py``."""
    # Gradio keeps request images as temporary files; delete_cache removes them within minutes.
    with gr.Blocks(title="maskface", delete_cache=(60, 300)) as demo:
        gr.Markdown("# maskface\nMask detection per face. Nothing you upload is stored.")
        with gr.Tab("Mask detection"):
            with gr.Row():
                with gr.Column():
                    image = gr.Image(label="Photo", type="numpy", sources=["upload", "webcam", "clipboard"])
                    choice = gr.Radio(list(MASK_MODELS), value=next(iter(MASK_MODELS)), label="Model")
                    button = gr.Button("Analyze", variant="primary")
                with gr.Column():
                    output = gr.Image(label="Faces", type="numpy", interactive=False)
                    table = gr.Dataframe(
                        headers=["face", "mask", "confidence", "detector score", "box (x, y, w, h)"],
                        interactive=False,
                    )
            button.click(analyze_mask, [image, choice], [output, table], api_name="mask")
    return demo
