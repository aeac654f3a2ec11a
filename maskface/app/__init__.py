"""The Gradio app: thin tabs over the library (:class:`maskface.Analyzer`, :mod:`maskface.video`,
:mod:`maskface.labels`); no model logic here.

One module per tab: :mod:`.task_tab` (Mask detection and Gender), :mod:`.recognition_tab`,
:mod:`.labeling_tab`; :mod:`.services` loads what they share, :mod:`.settings` reads the settings.

>>> settings = parse_args([])              # the environment's settings, as app.py reads them
>>> demo = build_app(settings)             # doctest: +SKIP
>>> launch(demo, settings)                 # doctest: +SKIP

The inference tabs store nothing: images live in memory for one request, and
Gradio's own temporary copies (uploads, shown results) are deleted within
minutes by ``delete_cache``. Labeling stores what its labelers consent to.
"""

from __future__ import annotations

from pathlib import Path

import gradio as gr

from .common import EXAMPLES_DIR
from .labeling_tab import LabelingTab
from .recognition_tab import RecognitionTab
from .services import Services
from .settings import Settings, parse_args
from .task_tab import TaskTab

__all__ = ["Services", "Settings", "build_app", "launch", "parse_args"]

KEYS_JS = (Path(__file__).with_name("keys.js")).read_text(encoding="utf-8")
CSS = "#label-crop img { object-fit: contain; } .about { font-size: 0.85em; opacity: 0.8; }"
#: Gradio's temporary files (uploads, results) are deleted every minute once older than five.
DELETE_CACHE = (60, 300)
MAX_FILE_SIZE = "100mb"


def build_app(settings: Settings | None = None, services: Services | None = None) -> gr.Blocks:
    """The Blocks app with its queue; ``services`` (loaded from ``settings`` by default) may be given by tests."""
    settings = settings or parse_args([])
    services = services or Services(settings)
    with gr.Blocks(title="maskface", delete_cache=DELETE_CACHE) as demo:
        gr.Markdown(
            "# maskface\nMasks, gender and identity of every face in a photo, a webcam or a video. "
            "Nothing you analyse is stored; labels are kept only with your consent."
        )
        with gr.Tabs():
            TaskTab(services, "mask").build()
            TaskTab(services, "gender").build()
            recognition = RecognitionTab(services)
            people = recognition.build()
            LabelingTab(services).build(demo)
        with gr.Accordion("About / models served", open=False):
            about = gr.Markdown(services.about(), elem_classes="about", elem_id="about")
        demo.load(services.about, None, about, api_visibility="private")
        demo.load(recognition.people, None, people, api_visibility="private")
    demo.queue(default_concurrency_limit=settings.concurrency, max_size=settings.queue_size)
    return demo


def launch(demo: gr.Blocks, settings: Settings, **options):
    """Serve ``demo`` with the app's page options (keys, style, limits); ``options`` go to ``launch``."""
    return demo.launch(
        **{
            "server_name": settings.host,
            "server_port": settings.port,
            "js": KEYS_JS,
            "css": CSS,
            "allowed_paths": [str(EXAMPLES_DIR.resolve())],
            "max_file_size": MAX_FILE_SIZE,
            "show_error": True,
            **options,
        }
    )
