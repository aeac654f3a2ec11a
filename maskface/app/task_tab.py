"""The Mask detection and Gender tabs: one face-classification task each, same inputs.

Photo (upload, webcam snapshot, clipboard), live webcam and video file all go
through :meth:`TaskTab.render`: the chosen model's analyzer, or every model
side by side, each result drawing itself (:meth:`maskface.analyzer.ImageResult.plot`).
A photo reaches the handler as its file, undecoded, and the analyzer decodes it
once, by :func:`maskface.image.load_image`, after its byte size and header
pixel count passed the limits; a video is checked against the video limits
from its header before a frame is decoded (:func:`maskface.video.check_video`),
then sampled within a time budget. Nothing is stored: images live in memory
for one request; uploads and the annotated video stay in the app's temporary
folder for at most five minutes (:class:`.uploads.TempFolder`), and a refused
upload is deleted at once.
"""

from __future__ import annotations

import functools
import time
import uuid

import gradio as gr
import numpy as np

from ..analyzer import ImageResult
from ..image import ImageSource
from ..tasks import TASKS
from ..video import VideoLimits, annotate_video, label_counts
from .common import as_warning, box, described, example, page_and_api, percent, require, side_by_side, user_errors
from .inputs import ImageInput
from .services import BOTH, Services
from .uploads import image_source

#: The table columns after "model" and "face", per task.
COLUMNS = {
    "mask": ["mask", "confidence", "detector score", "box (x, y, w, h)"],
    "gender": ["gender", "confidence", "mask", "box (x, y, w, h)"],
}
TITLES = {"mask": "Mask detection", "gender": "Gender"}
INTRO = {
    "mask": "Every face boxed and numbered as in the table: **with mask** (green) or **without mask** (red), with the "
    "model's confidence; the detector score says how sure the face detector was that it is a face.",
    "gender": "Every face boxed with the gender model's answer, **female** or **male**, and its confidence; "
    "the model is trained to answer for masked faces too. The table also gives each face's mask.",
}
EXAMPLES = {
    "mask": ["collage-two-faces.jpg", "astronaut-masked-simulated.jpg", "grace_hopper.jpg"],
    "gender": ["astronaut-masked-simulated.jpg", "grace_hopper-masked-simulated.jpg", "collage-two-faces.jpg"],
}
VIDEO_EXAMPLE = "two-faces.mp4"
#: Seconds between analysed video frames (MASKFACE_VIDEO_MAX_FRAMES of them at most).
VIDEO_EVERY = 0.5


class TaskTab:
    """One task's tab: its handlers (also the API) and its layout."""

    def __init__(self, services: Services, task: str) -> None:
        self.services = services
        self.task = task

    # ----------------------------------------------------------------------
    # Handlers.

    def render(self, image: ImageSource, choice: str) -> tuple[np.ndarray, list[tuple[str, ImageResult]]]:
        """The annotated image for the chosen model (or all, side by side) and each model's result."""
        served = self.services.models[self.task]
        values = list(served) if choice == BOTH else [choice]
        results: list[tuple[str, ImageResult]] = []
        for value in values:
            source = results[0][1].image if results else image  # decoded once, by the first model's analyzer
            results.append((served[value].title, self.services.analyzer(self.task, value).analyze(source)))
        panels = [(title, result.plot(self.task)) for title, result in results]
        annotated = panels[0][1] if len(panels) == 1 else side_by_side(panels)
        return np.asarray(annotated), results

    def rows(self, results: list[tuple[str, ImageResult]]) -> list[list]:
        """One table row per face per model."""
        rows = []
        for title, result in results:
            for number, face in enumerate(result, start=1):
                answer = face[self.task]
                detail = f"{face.score:.2f}" if self.task == "mask" else described(face["mask"])
                rows.append([title, number, answer.label, percent(answer.score), detail, box(face)])
        return rows

    def photo(self, image: str | None, choice: str, request: gr.Request) -> tuple[np.ndarray, list[list]]:
        """Photo input: the annotated image and one table row per face (and model)."""
        with user_errors(self.task):
            require(image, "Add a photo first: upload one, take a webcam snapshot, or click an example.")
            with self.services.temp.refusing(image):
                annotated, results = self.render(image_source(image), choice)
        if not any(result for _, result in results):
            gr.Info("No face found in this image.")
        return annotated, self.rows(results)

    def stream(self, frame: str | None, choice: str) -> np.ndarray | None:
        """Live webcam: each frame annotated (no table, to keep up with the camera)."""
        if frame is None:
            return None
        with user_errors(f"{self.task}_stream"):
            return self.render(image_source(frame), choice)[0]

    def video(
        self, path: str | None, choice: str, request: gr.Request, progress: gr.Progress = gr.Progress()
    ) -> tuple[str, list[list]]:
        """Video file: the annotated video (sampled frames) and a per-frame summary."""
        settings = self.services.settings
        labels = TASKS[self.task].labels
        # Written into the app's temporary folder, which serves it from there and deletes it within minutes.
        output = self.services.temp.path / f"maskface-annotated-{uuid.uuid4().hex}.mp4"
        limits = VideoLimits(
            settings.video_max_seconds, settings.video_max_fps, settings.video_max_frames, settings.video_max_side
        )
        deadline = time.monotonic() + settings.video_seconds
        with user_errors(f"{self.task}_video"):
            require(path, "Add a video file first, or click the example.")
            progress(0, desc="Reading the video")
            with self.services.temp.refusing(path):
                results = annotate_video(
                    path,
                    output,
                    functools.partial(self.render, choice=choice),
                    every=VIDEO_EVERY,
                    max_frames=settings.video_max_frames,
                    progress=lambda done, total: progress((done, total), desc="Analysing frames", unit="frames"),
                    limits=limits,
                    deadline=deadline,
                )
        if time.monotonic() >= deadline:
            gr.Warning(
                f"Stopped after {settings.video_seconds:g} s of analysis, the limit per video: "
                f"the first {len(results)} sampled frames are shown."
            )
        rows = []
        for info, per_model in results:
            for title, result in per_model:
                counts = label_counts(result.faces, self.task)
                rows.append([info.time, title, len(result), *(counts.get(label, 0) for label in labels)])
        return str(output), rows

    # ----------------------------------------------------------------------
    # Layout.

    def build(self) -> None:
        """The tab's components and events, inside the current ``gr.Blocks``."""
        task, settings, share = self.task, self.services.settings, self.services.share
        choices = self.services.choices(task)
        with gr.Tab(TITLES[task], id=f"tab-{task}", elem_id=f"tab-{task}"):
            gr.Markdown(INTRO[task])
            choice = gr.Radio(choices, value=choices[0][1], label="Model", elem_id=f"{task}-model")
            headers = ["model", "face", *COLUMNS[task]]
            with gr.Tab("Photo"):
                with gr.Row():
                    with gr.Column():
                        image = ImageInput(
                            label="Photo",
                            type="filepath",
                            sources=["upload", "webcam", "clipboard"],
                            elem_id=f"{task}-input",
                        )
                        button = gr.Button("Analyze", variant="primary", elem_id=f"{task}-run")
                    output = gr.Image(
                        label="Faces", type="numpy", interactive=False, format="jpeg", elem_id=f"{task}-output"
                    )
                table = gr.Dataframe(headers=headers, interactive=False, label="Faces found", elem_id=f"{task}-table")
                page_and_api(share.listen, button.click, self.photo, [image, choice], [output, table], api_name=task)
                examples = gr.Examples(
                    [[example(file)] for file in EXAMPLES[task]],
                    [image],
                    cache_examples=False,
                    api_visibility="private",
                )
                # a clicked example is analysed at once, with the model chosen above
                share.listen(
                    examples.load_input_event.then,
                    as_warning(self.photo, 2),
                    [image, choice],
                    [output, table],
                    api_visibility="private",
                )
            with gr.Tab("Live webcam"):
                gr.Markdown("Allow the camera, then start recording: about two annotated frames a second.")
                with gr.Row():
                    webcam = ImageInput(label="Webcam", type="filepath", sources=["webcam"], streaming=True)
                    live = gr.Image(
                        label="Faces", type="numpy", interactive=False, format="jpeg", elem_id=f"{task}-live"
                    )
                webcam.stream(
                    self.stream,
                    [webcam, choice],
                    [live],
                    stream_every=0.5,
                    time_limit=120,
                    concurrency_limit=self.services.settings.concurrency,
                    api_name=f"{task}_stream",
                )
            with gr.Tab("Video file"):
                gr.Markdown(
                    f"One frame every {VIDEO_EVERY:g} s is analysed, for the first "
                    f"{VIDEO_EVERY * settings.video_max_frames:g} s; the result is a video of those frames. "
                    f"Videos up to {settings.video_max_seconds:g} s and {settings.video_max_fps:g} frames per "
                    f"second; at most {settings.video_seconds:g} s of analysis per video."
                )
                with gr.Row():
                    with gr.Column():
                        video_in = gr.Video(
                            label="Video", sources=["upload"], include_audio=True, elem_id=f"{task}-video-input"
                        )
                        video_button = gr.Button("Analyze video", variant="primary", elem_id=f"{task}-video-run")
                    with gr.Column():
                        video_out = gr.Video(label="Annotated frames", interactive=False)
                summary = gr.Dataframe(
                    headers=["time (s)", "model", "faces", *TASKS[task].labels], interactive=False, label="Per frame"
                )
                page_and_api(
                    share.listen,
                    video_button.click,
                    self.video,
                    [video_in, choice],
                    [video_out, summary],
                    api_name=f"{task}_video",
                    concurrency_id="video",
                    concurrency_limit=1,
                )
                gr.Examples([[example(VIDEO_EXAMPLE)]], [video_in], api_visibility="private")
