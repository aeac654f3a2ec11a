"""The Mask detection and Gender tabs: one face-classification task each, same inputs.

Photo (upload, webcam snapshot, clipboard), live webcam and video file all go
through :meth:`TaskTab.render`: the chosen model's analyzer, or every model
side by side, each result drawing itself (:meth:`maskface.analyzer.ImageResult.plot`). Nothing is stored: images
live in memory for one request (Gradio's own temporary copies are deleted by
the app's ``delete_cache``); the annotated video is written into Gradio's cache,
deleted the same way.
"""

from __future__ import annotations

import functools
import uuid
from pathlib import Path

import gradio as gr
import numpy as np
from gradio.utils import get_upload_folder

from ..analyzer import ImageResult
from ..tasks import TASKS
from ..video import annotate_video, label_counts
from .common import box, described, example, require, shown_score, side_by_side, user_errors
from .services import BOTH, Services

#: The table columns after "model" and "face", per task.
COLUMNS = {
    "mask": ["mask", "confidence", "detector", "box (x, y, w, h)"],
    "gender": ["gender", "confidence", "mask", "box (x, y, w, h)"],
}
TITLES = {"mask": "Mask detection", "gender": "Gender"}
INTRO = {
    "mask": "Every face boxed: **with mask** (green) or **without mask** (red), with the model's confidence.",
    "gender": "Every face boxed with the gender model's answer, **female** or **male**, and its confidence; "
    "the model is trained to answer for masked faces too. The table also gives each face's mask.",
}
EXAMPLES = {
    "mask": ["collage-two-faces.jpg", "astronaut-masked-simulated.jpg", "grace_hopper.jpg"],
    "gender": ["astronaut-masked-simulated.jpg", "grace_hopper-masked-simulated.jpg", "collage-two-faces.jpg"],
}
VIDEO_EXAMPLE = "two-faces.mp4"
#: Seconds between analysed video frames, and how many frames at most (the first minute at this rate).
VIDEO_EVERY = 0.5
VIDEO_MAX_FRAMES = 120


class TaskTab:
    """One task's tab: its handlers (also the API) and its layout."""

    def __init__(self, services: Services, task: str) -> None:
        self.services = services
        self.task = task

    # ----------------------------------------------------------------------
    # Handlers.

    def render(self, image: np.ndarray, choice: str) -> tuple[np.ndarray, list[tuple[str, ImageResult]]]:
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
                detail = round(face.score, 3) if self.task == "mask" else described(face["mask"])
                rows.append([title, number, answer.label, shown_score(answer.score), detail, box(face)])
        return rows

    def photo(self, image: np.ndarray | None, choice: str) -> tuple[np.ndarray, list[list]]:
        """Photo input: the annotated image and one table row per face (and model)."""
        require(image, "Add a photo first: upload one, take a webcam snapshot, or click an example.")
        with user_errors():
            annotated, results = self.render(image, choice)
        if not any(result for _, result in results):
            gr.Info("No face found in this image.")
        return annotated, self.rows(results)

    def stream(self, frame: np.ndarray | None, choice: str) -> np.ndarray | None:
        """Live webcam: each frame annotated (no table, to keep up with the camera)."""
        if frame is None:
            return None
        with user_errors():
            return self.render(frame, choice)[0]

    def video(self, path: str | None, choice: str, progress: gr.Progress = gr.Progress()) -> tuple[str, list[list]]:
        """Video file: the annotated video (sampled frames) and a per-frame summary."""
        require(path, "Add a video file first, or click the example.")
        labels = TASKS[self.task].labels
        # Written into Gradio's cache, which serves it from there and deletes it with the app's delete_cache.
        output = Path(get_upload_folder()) / f"maskface-annotated-{uuid.uuid4().hex}.mp4"
        output.parent.mkdir(parents=True, exist_ok=True)
        progress(0, desc="Reading the video")
        with user_errors():
            results = annotate_video(
                path,
                output,
                functools.partial(self.render, choice=choice),
                every=VIDEO_EVERY,
                max_frames=VIDEO_MAX_FRAMES,
                progress=lambda done, total: progress((done, total), desc="Analysing frames", unit="frames"),
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
        task = self.task
        choices = self.services.choices(task)
        with gr.Tab(TITLES[task], id=f"tab-{task}", elem_id=f"tab-{task}"):
            gr.Markdown(INTRO[task])
            choice = gr.Radio(choices, value=choices[0][1], label="Model", elem_id=f"{task}-model")
            headers = ["model", "face", *COLUMNS[task]]
            with gr.Tab("Photo"):
                with gr.Row():
                    with gr.Column():
                        image = gr.Image(
                            label="Photo",
                            type="numpy",
                            sources=["upload", "webcam", "clipboard"],
                            elem_id=f"{task}-input",
                        )
                        button = gr.Button("Analyze", variant="primary", elem_id=f"{task}-run")
                    output = gr.Image(
                        label="Faces", type="numpy", interactive=False, format="jpeg", elem_id=f"{task}-output"
                    )
                table = gr.Dataframe(headers=headers, interactive=False, label="Faces found", elem_id=f"{task}-table")
                button.click(self.photo, [image, choice], [output, table], api_name=task)
                examples = gr.Examples(
                    [[example(file)] for file in EXAMPLES[task]],
                    [image],
                    cache_examples=False,
                    api_visibility="private",
                )
                # a clicked example is analysed at once, with the model chosen above
                examples.load_input_event.then(self.photo, [image, choice], [output, table], api_visibility="private")
            with gr.Tab("Live webcam"):
                gr.Markdown("Allow the camera, then start recording: about two annotated frames a second.")
                with gr.Row():
                    webcam = gr.Image(label="Webcam", type="numpy", sources=["webcam"], streaming=True)
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
                    f"{VIDEO_EVERY * VIDEO_MAX_FRAMES:g} s; the result is a video of those frames."
                )
                with gr.Row():
                    with gr.Column():
                        video_in = gr.Video(label="Video", sources=["upload"], include_audio=True)
                        video_button = gr.Button("Analyze video", variant="primary")
                    with gr.Column():
                        video_out = gr.Video(label="Annotated frames", interactive=False)
                summary = gr.Dataframe(
                    headers=["time (s)", "model", "faces", *TASKS[task].labels], interactive=False, label="Per frame"
                )
                video_button.click(self.video, [video_in, choice], [video_out, summary], api_name=f"{task}_video")
                gr.Examples([[example(VIDEO_EXAMPLE)]], [video_in], api_visibility="private")
