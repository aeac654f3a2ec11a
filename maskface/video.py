"""Video files: sample frames, annotate each, write the annotated frames back as a video.

The app's video input goes through here. Frames are sampled at a fixed
interval (``every`` seconds) up to ``max_frames``, so the work per upload is
bounded whatever the video's length: only the first ``every * max_frames``
seconds are decoded. :class:`VideoLimits` bounds the rest before and while
decoding: :func:`check_video` refuses, from the container's header, a video
longer than ``max_seconds`` or with a frame rate over ``max_fps`` (decoding
cost grows with it: every frame is decoded to sample a few); decoding stops
with an error when a file decodes more frames than its rate allows, frames are
downscaled to ``max_side`` by FFmpeg before they are converted, and sampling
stops at a ``deadline`` (the caller's time budget). Every sampled frame goes
through :func:`load_image`, the same normalisation and limits as photos. The
output is an H.264 MP4 (browsers play it) at one frame per sample, so it lasts
as long as the span analysed.

>>> import tempfile
>>> out = tempfile.mkdtemp() + "/frames.mp4"
>>> results = annotate_video("examples/two-faces.mp4", out, lambda pixels: (pixels, pixels.shape), every=0.5)
>>> [(info.time, shape) for info, shape in results][:2]
[(0.0, (260, 320, 3)), (0.5, (260, 320, 3))]

Decoding and encoding use PyAV, whose wheels carry their own FFmpeg.
"""

from __future__ import annotations

import logging
import math
import os
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import TypeVar

import av
import numpy as np

from .face import Face
from .image import ImageError, load_image

log = logging.getLogger(__name__)

R = TypeVar("R")

DEFAULT_EVERY = 0.5
DEFAULT_MAX_FRAMES = 120


class VideoError(ValueError):
    """A file that cannot be used as a video; the message is shown to users as is."""


@dataclass(frozen=True)
class VideoLimits:
    """What one video may cost: its duration and frame rate (checked from the header), the frames sampled and their size."""

    max_seconds: float = 600.0
    max_fps: float = 60.0
    max_frames: int = DEFAULT_MAX_FRAMES
    max_side: int = 1280


@dataclass(frozen=True)
class VideoInfo:
    """What a video's header says: duration (seconds, 0 when unknown), frame rate (0 when unknown), frame size."""

    duration: float
    fps: float
    width: int
    height: int


def probe_video(source: str | os.PathLike) -> VideoInfo:
    """Read a video's header (no frame is decoded); :class:`VideoError` when it is not a readable video."""
    name = Path(source).name
    try:
        with av.open(os.fspath(source)) as container:
            if not container.streams.video:
                raise VideoError(f"{name} has no video stream")
            stream = container.streams.video[0]
            rate = stream.average_rate or stream.guessed_rate or 0
            duration = container.duration / av.time_base if container.duration else 0.0
            if not duration and stream.duration and stream.time_base:
                duration = float(stream.duration * stream.time_base)
            return VideoInfo(float(duration), float(rate), stream.width, stream.height)
    except (av.FFmpegError, OSError) as err:
        raise VideoError(f"{name} cannot be read as a video: {err}") from None


def check_video(source: str | os.PathLike, limits: VideoLimits) -> VideoInfo:
    """The video's header, or :class:`VideoError` saying which limit it exceeds (before any frame is decoded)."""
    info = probe_video(source)
    name = Path(source).name
    if info.duration > limits.max_seconds:
        raise VideoError(
            f"{name} lasts {info.duration:.0f} s, longer than the limit of {limits.max_seconds:g} s "
            "(set MASKFACE_VIDEO_MAX_SECONDS to change it): cut it shorter"
        )
    if info.fps > limits.max_fps:
        raise VideoError(
            f"{name} has {info.fps:.0f} frames per second, more than the limit of {limits.max_fps:g} "
            "(set MASKFACE_VIDEO_MAX_FPS to change it): convert it to a lower frame rate"
        )
    return info


@dataclass(frozen=True)
class FrameInfo:
    """Where a sampled frame sits: its sample number and its time in the video (seconds)."""

    sample: int
    time: float


def sample_frames(
    source: str | os.PathLike,
    every: float = DEFAULT_EVERY,
    max_frames: int = DEFAULT_MAX_FRAMES,
    *,
    max_side: int | None = None,
    max_fps: float | None = None,
    deadline: float | None = None,
) -> Iterator[tuple[FrameInfo, np.ndarray]]:
    """Yield the first frame at or after each multiple of ``every`` seconds, as RGB arrays.

    Stops after ``max_frames`` samples, before decoding the rest of the file,
    or once ``time.monotonic()`` passes ``deadline``. Frames are downscaled to
    ``max_side`` (longer side) as they are converted. Raises :class:`VideoError`
    for files that are not a readable video, and for one that decodes more than
    ``max_fps`` frames per second of video.
    """
    if every <= 0 or max_frames < 1:
        raise ValueError(f"every must be > 0 and max_frames >= 1, got {every!r} and {max_frames!r}")
    name = Path(source).name
    try:
        container = av.open(os.fspath(source))
    except (av.FFmpegError, OSError) as err:
        raise VideoError(f"{name} cannot be read as a video: {err}") from None
    with container:
        if not container.streams.video:
            raise VideoError(f"{name} has no video stream")
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        sample, next_time, decoded = 0, 0.0, 0
        try:
            for frame in container.decode(stream):
                decoded += 1
                at = float(frame.time) if frame.time is not None else sample * every
                if max_fps is not None and decoded > max_fps * (max(at, 0.0) + 1.0):
                    raise VideoError(f"{name} holds more than {max_fps:g} frames per second: convert it to a lower rate")
                if at + 1e-6 < next_time:
                    continue
                pixels = _upright(_rgb(frame, max_side), frame.rotation)
                yield FrameInfo(sample, round(at, 3)), load_image(pixels)
                sample += 1
                next_time = sample * every
                if sample >= max_frames or (deadline is not None and time.monotonic() >= deadline):
                    return
        except av.FFmpegError as err:
            raise VideoError(f"{name} could not be decoded after {sample} frames: {err}") from None
        except ImageError as err:
            raise VideoError(f"{name}: frame {sample}: {err}") from None
        if sample == 0:
            raise VideoError(f"{name} holds no frames")


def write_video(frames: Iterable[np.ndarray], path: str | os.PathLike, fps: float) -> Path:
    """Encode RGB frames as an H.264 MP4 that browsers play; returns ``path``.

    Every frame takes the first frame's size (odd sizes are padded by one
    pixel, which yuv420p needs); at least one frame is required.
    """
    path = Path(path)
    with av.open(os.fspath(path), "w") as container:
        stream = None
        for pixels in frames:
            if stream is None:
                height, width = pixels.shape[:2]
                stream = container.add_stream("libx264", rate=Fraction(fps).limit_denominator(1000))
                stream.width, stream.height = width + width % 2, height + height % 2
                stream.pix_fmt = "yuv420p"
                stream.options = {"crf": "23", "preset": "veryfast"}
            frame = av.VideoFrame.from_ndarray(_fit(pixels, stream.height, stream.width), format="rgb24")
            container.mux(stream.encode(frame))
        if stream is None:
            raise ValueError("write_video needs at least one frame")
        container.mux(stream.encode(None))
    return path


def annotate_video(
    source: str | os.PathLike,
    output: str | os.PathLike,
    annotate_frame: Callable[[np.ndarray], tuple[np.ndarray, R]],
    every: float = DEFAULT_EVERY,
    max_frames: int = DEFAULT_MAX_FRAMES,
    progress: Callable[[int, int], None] | None = None,
    *,
    limits: VideoLimits | None = None,
    deadline: float | None = None,
) -> list[tuple[FrameInfo, R]]:
    """Sample ``source``, turn each frame into ``(annotated pixels, result)``, write the annotated video.

    ``annotate_frame`` is typically an analyzer call and its result's
    :meth:`~maskface.analyzer.ImageResult.plot`.
    ``progress(done, total)`` is called after each frame (``total`` is an
    estimate from the container's duration). With ``limits``, the video is
    checked first (:func:`check_video`), at most ``limits.max_frames`` are
    sampled and frames are downscaled; sampling stops at ``deadline``
    (``time.monotonic()``). Returns each frame's info and result.
    """
    sampling: dict = {}
    if limits is not None:
        check_video(source, limits)
        max_frames = min(max_frames, limits.max_frames)
        sampling = {"max_side": limits.max_side, "max_fps": limits.max_fps}
    total = estimate_samples(source, every, max_frames)
    results: list[tuple[FrameInfo, R]] = []

    def annotated() -> Iterator[np.ndarray]:
        for info, pixels in sample_frames(source, every, max_frames, deadline=deadline, **sampling):
            image, result = annotate_frame(pixels)
            results.append((info, result))
            if progress is not None:
                progress(len(results), max(total, len(results)))
            yield image

    try:
        write_video(annotated(), output, fps=1 / every)
    except BaseException:
        Path(output).unlink(missing_ok=True)  # no half-written video left behind
        raise
    log.info("annotated %d frames of %s into %s", len(results), source, output)
    return results


def estimate_samples(source: str | os.PathLike, every: float, max_frames: int) -> int:
    """How many frames :func:`sample_frames` will yield, from the container's duration (1 when unknown)."""
    try:
        with av.open(os.fspath(source)) as container:
            duration = container.duration / av.time_base if container.duration else 0.0
    except (av.FFmpegError, OSError):
        return 1
    return max(1, min(max_frames, math.ceil(duration / every)))


def label_counts(faces: list[Face], task: str) -> dict[str, int]:
    """How many faces got each label of ``task`` in one frame: the per-frame summary."""
    return dict(Counter(face[task].label for face in faces if task in face.results))


def _rgb(frame: av.VideoFrame, max_side: int | None) -> np.ndarray:
    """The frame as an RGB array, downscaled by FFmpeg to ``max_side`` (longer side) first when larger."""
    longer = max(frame.width, frame.height)
    if max_side is None or longer <= max_side:
        return frame.to_ndarray(format="rgb24")
    scale = max_side / longer
    width, height = max(2, round(frame.width * scale)), max(2, round(frame.height * scale))
    return frame.reformat(width=width, height=height, format="rgb24").to_ndarray()


def _upright(pixels: np.ndarray, rotation: int) -> np.ndarray:
    """Apply the stream's display rotation (phone videos), counter-clockwise degrees."""
    turns = round(rotation / 90) % 4
    return np.ascontiguousarray(np.rot90(pixels, turns)) if turns else pixels


def _fit(pixels: np.ndarray, height: int, width: int) -> np.ndarray:
    """``pixels`` resized to exactly ``height`` x ``width``: pad by edge values, or crop."""
    pixels = pixels[:height, :width]
    pad = ((0, height - pixels.shape[0]), (0, width - pixels.shape[1]), (0, 0))
    return np.pad(pixels, pad, mode="edge") if any(p[1] for p in pad) else np.ascontiguousarray(pixels)
