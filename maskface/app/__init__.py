"""The Gradio app: thin tabs over the library (:class:`maskface.Analyzer`, :mod:`maskface.video`,
:mod:`maskface.labels`); no model logic here.

One module per tab: :mod:`.task_tab` (Mask detection and Gender), :mod:`.recognition_tab`,
:mod:`.labeling_tab`, :mod:`.progress_tab`; :mod:`.services` loads what they share, :mod:`.settings` reads the settings,
:mod:`.access` says who may do what, :mod:`.limits` and :mod:`.queues` hold the per-visitor limits,
:mod:`.uploads` the undecoded inputs and the temporary folder.

>>> settings = parse_args([])              # the environment's settings, as app.py reads them
>>> demo = build_app(settings)             # doctest: +SKIP
>>> launch(demo, settings)                 # doctest: +SKIP

On a Space (``SPACE_ID`` set) the page has a "Sign in with Hugging Face"
button (Space OAuth; the README's front matter sets ``hf_oauth``) and each
handler learns who asks from Gradio's ``gr.OAuthProfile``; run locally there
is no sign-in and the person at the machine may do everything.

The inference tabs store nothing: images live in memory for one request, and
uploads and shown results stay in the app's own temporary folder for at most
five minutes. Labeling stores what its labelers consent to.
"""

from __future__ import annotations

from pathlib import Path

import gradio as gr

from ..config import use_gradio_temp_dir
from .common import EXAMPLES_DIR
from .labeling_tab import LabelingTab
from .progress_tab import ProgressTab
from .recognition_tab import RecognitionTab
from .services import Services
from .settings import Settings, parse_args
from .task_tab import TaskTab

__all__ = ["Services", "Settings", "build_app", "launch", "parse_args"]

KEYS_JS = (Path(__file__).with_name("keys.js")).read_text(encoding="utf-8")
CSS = "#label-crop img { object-fit: contain; } .about { font-size: 0.85em; opacity: 0.8; }"


def build_app(settings: Settings | None = None, services: Services | None = None) -> gr.Blocks:
    """The Blocks app with its queue; ``services`` (loaded from ``settings`` by default) may be given by tests.

    Gradio's temporary folder becomes the app's own (``GRADIO_TEMP_DIR``), swept
    of what an earlier run left before anything is served.
    """
    settings = settings or parse_args([])
    services = services or Services(settings)
    use_gradio_temp_dir(services.temp.prepare().path)
    labeling = LabelingTab(services)
    with gr.Blocks(title="maskface") as demo:
        labeling.browser_state()
        with gr.Row():
            gr.Markdown(
                "# maskface\nMasks, gender and identity of every face in a photo, a webcam or a video. "
                "Nothing you analyse is stored; labels are kept only with your consent."
            )
            if settings.on_space:
                gr.LoginButton(scale=0, min_width=260)
        with gr.Tabs():
            TaskTab(services, "mask").build()
            TaskTab(services, "gender").build()
            RecognitionTab(services).build(demo)
            labeling.build(demo)
            ProgressTab(services).build()
        with gr.Accordion("About / models served", open=False):
            about = gr.Markdown(services.about(), elem_classes="about", elem_id="about")
        demo.load(services.about, None, about, api_visibility="private")
        demo.unload(services.session_closed)
    demo.queue(default_concurrency_limit=settings.concurrency, max_size=settings.queue_size, api_open=False)
    services.temp.keep_present()  # Gradio's copies of the example files, made while the page was built
    return demo


def launch(demo: gr.Blocks, settings: Settings, services: Services | None = None, **options):
    """Serve ``demo`` with the app's page options (keys, style, limits); ``options`` go to ``launch``.

    With ``services``, their temporary folder is swept every minute while the app serves.
    """
    if services is not None:
        services.temp.start()
    return demo.launch(
        **{
            "server_name": settings.host,
            "server_port": settings.port,
            "js": KEYS_JS,
            "css": CSS,
            "allowed_paths": [str(EXAMPLES_DIR.resolve())],
            "max_file_size": max(settings.max_bytes, settings.video_max_bytes),
            "show_error": True,
            **options,
        }
    )
